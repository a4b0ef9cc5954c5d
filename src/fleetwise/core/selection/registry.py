"""The VM-selection registry (entry-point group ``fleetwise.selection``)."""

from fleetwise.core.registry import Registry
from fleetwise.core.types import VmSelector

__all__ = ["SELECTION"]

SELECTION: Registry[VmSelector] = Registry("selection")
