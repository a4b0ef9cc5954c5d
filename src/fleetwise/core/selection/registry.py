"""The VM-selection registry (entry-point group ``fleetwise.selection``)."""

from fleetwise.core.registry import Registry
from fleetwise.core.types import SelectorFunction, VmSelector

__all__ = ["SELECTION"]

SELECTION: Registry[SelectorFunction, VmSelector] = Registry("selection")
