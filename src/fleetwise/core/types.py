"""Value types shared by the decision core's algorithm families."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DetectorContext",
    "DetectorFunction",
    "FloatArray",
    "HostDetector",
    "JsonState",
    "SelectionContext",
    "SelectorFunction",
    "VmObservation",
    "VmSelector",
]

FloatArray = npt.NDArray[np.float64]

JsonState = Mapping[str, Any]
"""Serialisable per-host algorithm state (OTF and MHOD counters); ``{}`` for stateless ones."""


@dataclass(frozen=True)
class DetectorContext:
    """What a host detector may know besides the utilisation history.

    ``time_step_s`` is the sampling interval of the history and ``migration_time_s``
    the estimated time to migrate a VM away from this host.
    """

    time_step_s: float = 300.0
    migration_time_s: float = 0.0


class HostDetector(Protocol):
    """An underload or overload detector with its parameters bound.

    ``history`` is the host's CPU utilisation as fractions of its capacity, oldest
    first; its last element is the current utilisation. Returns the decision and the
    detector's new state (the same mapping for stateless detectors).
    """

    def __call__(
        self, history: FloatArray, ctx: DetectorContext, state: JsonState
    ) -> tuple[bool, JsonState]: ...


class DetectorFunction(Protocol):
    """An underload or overload detector as registered: its parameters come last, by
    keyword (``params``, an instance of the algorithm's :class:`~fleetwise.core.registry.Params`
    model), and are bound when the registry builds it into a :class:`HostDetector`."""

    def __call__(
        self, history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: Any
    ) -> tuple[bool, JsonState]: ...


@dataclass(frozen=True)
class VmObservation:
    """One VM as seen by VM selection.

    ``cpu_history`` is the VM's CPU use in MHz (or MIPS), oldest first, last = current;
    ``capacity`` is the VM's nominal CPU in the same unit.
    """

    vm_id: str
    ram_mb: float
    capacity: float
    cpu_history: FloatArray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class SelectionContext:
    """Inputs of VM selection besides the candidate VMs; ``seed`` drives random choices."""

    seed: int = 0


class VmSelector(Protocol):
    """A VM-selection policy with its parameters bound: the index of the chosen VM or None."""

    def __call__(self, vms: tuple[VmObservation, ...], ctx: SelectionContext) -> int | None: ...


class SelectorFunction(Protocol):
    """A VM-selection policy as registered (see :class:`DetectorFunction` for ``params``)."""

    def __call__(
        self, vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: Any
    ) -> int | None: ...
