"""The CloudSim 3.0.3 model of the published PlanetLab experiments.

Its inner loops are compiled by numba and cached next to the sources. numba checks
each cached function against its own file only, so a kernel cached before a change
to a kernel it calls in another file would link to code that no longer exists. The
cache is therefore dropped whenever any source of this package changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).parent
_STAMP = "fleetwise-sources.sha256"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for source in sorted(_PACKAGE.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


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
        stamp.write_text(current)
    except OSError:  # a read-only install: numba keeps its cache elsewhere
        return


def kernels_cached() -> bool:
    """Whether compiled kernels are cached next to the sources (else the first run compiles)."""
    return any((_PACKAGE / "__pycache__").glob("*.nbi"))


_drop_stale_kernel_cache()
