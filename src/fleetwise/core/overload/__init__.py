"""Overload detectors: is a host's CPU about to be (or already) overloaded?

Every detector is a pure function ``f(history, ctx, state, *, params)`` returning
``(overloaded, new_state)`` (see :class:`fleetwise.core.types.HostDetector`).
Build one with ``OVERLOAD.build(name, params)``.
"""

from fleetwise.core.overload.registry import OVERLOAD

# Importing the modules registers their algorithms.
from fleetwise.core.overload import (  # noqa: E402,F401,I001
    thresholds,
    statistics,
    regression,
    otf,
    mhod,
)

__all__ = ["OVERLOAD"]
