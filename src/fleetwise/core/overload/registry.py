"""The overload-detector registry (entry-point group ``fleetwise.overload``)."""

from fleetwise.core.registry import Registry
from fleetwise.core.types import DetectorFunction, HostDetector

__all__ = ["OVERLOAD"]

OVERLOAD: Registry[DetectorFunction, HostDetector] = Registry("overload")
