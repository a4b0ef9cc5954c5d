"""The CloudSim 3.0.3 model of the published PlanetLab experiments.

Its inner loops are compiled by numba and cached next to the sources, and a whole
day is also compiled ahead of time into an extension module (:mod:`.aot`). numba
checks each cached function against its own file only, so a kernel cached before a
change to a kernel it calls in another file would link to code that no longer
exists. The cache is therefore dropped whenever any source of this package, or of
the core kernels it calls (``core/fit.py``, ``core/selection/_householder.py``),
changes. (With ``NUMBA_CACHE_DIR`` set, numba keeps the cache there and this guard
does not apply; the day module is kept there too.)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).parent
_CORE = Path(__file__).parents[2] / "core"
_CALLED = (_CORE / "fit.py", _CORE / "selection" / "_householder.py")  # compiled code called here
_STAMP = "fleetwise-sources.sha256"


def cache_dir() -> Path:
    """Where compiled kernels are kept."""
    elsewhere = os.environ.get("NUMBA_CACHE_DIR")
    return Path(elsewhere) / "fleetwise" if elsewhere else _PACKAGE / "__pycache__"


def sources_digest() -> str:
    """Digest of the sources compiled into the model's kernels."""
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
    current = sources_digest()
    try:
        if stamp.read_text() == current:
            return
    except OSError:
        pass
    try:
        for cached in [*cache.glob("*.nbi"), *cache.glob("*.nbc"), *cache.glob("_fleetwise_day_*")]:
            cached.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        _write_atomically(stamp, current)
    except OSError:  # a read-only install: numba keeps its cache elsewhere
        return


def kernels_cached() -> bool:
    """Whether this version's day module is built (else the first run compiles it)."""
    from fleetwise.sim.cloudsim.aot import aot_module_path

    return aot_module_path().exists()


_drop_stale_kernel_cache()
