"""The CloudSim 3.0.3 model of the published PlanetLab experiments.

Its inner loops are compiled by numba and cached next to the sources. numba checks
each cached function against its own file only, so a kernel cached before a change
to a kernel it calls in another file would link to code that no longer exists. The
cache is therefore dropped whenever any source of this package, or of the core
kernels it calls (``core/fit.py``), changes. (With ``NUMBA_CACHE_DIR`` set, numba
keeps the cache there and this guard does not apply.)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).parent
_CALLED = (Path(__file__).parents[2] / "core" / "fit.py",)  # compiled code called from here
_STAMP = "fleetwise-sources.sha256"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for source in [*sorted(_PACKAGE.glob("*.py")), *_CALLED]:
        if source.exists():
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _drop_stale_kernel_cache() -> None:
    """Remove numba's cached kernels of this package if its sources changed."""
    cache = _PACKAGE / "__pycache__"
    stamp = cache / _STAMP
    current = _sources_digest()
    try:
        if stamp.read_text() == current:
            return
    except OSError:
        pass
    try:
        for cached in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            cached.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        _write_atomically(stamp, current)
    except OSError:  # a read-only install: numba keeps its cache elsewhere
        return


def kernels_cached() -> bool:
    """Whether compiled kernels are cached (else the first run compiles them)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True  # kept elsewhere: assume so rather than announce a compilation
    return any((_PACKAGE / "__pycache__").glob("*.nbi"))


_drop_stale_kernel_cache()
