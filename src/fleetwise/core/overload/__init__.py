"""Overload detectors: is a host's CPU about to be (or already) overloaded?

Every detector is a pure function ``f(history, ctx, state, *, params)`` returning
``(overloaded, new_state)`` (see :class:`fleetwise.core.types.HostDetector`).
Build one with ``OVERLOAD.build(name, params)``.
"""

# Importing the modules registers their algorithms.
from fleetwise.core.overload import (  # noqa: F401
    mhod,
    otf,
    regression,
    statistics,
    thresholds,
)
from fleetwise.core.overload.registry import OVERLOAD

__all__ = ["OVERLOAD"]
