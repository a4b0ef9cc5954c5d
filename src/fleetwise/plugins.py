"""What a plugin author needs: registries, parameter models, observation and decision types.

An algorithm is a pure function registered as an :class:`AlgorithmSpec` under a
name, with a pydantic :class:`Params` model for its parameters (validated when a
configuration names it). Out-of-tree packages add algorithms through the Python
entry-point groups ``fleetwise.underload``, ``fleetwise.overload``,
``fleetwise.selection`` and ``fleetwise.placement``; each entry point resolves to an
:class:`AlgorithmSpec`, for example in a plugin's ``pyproject.toml``::

    [project.entry-points."fleetwise.overload"]
    peak = "my_plugin:PEAK"

and in ``my_plugin.py``::

    class PeakParams(Params):
        threshold: float = Field(0.9, gt=0, le=1)

    def peak(history, ctx, state, *, params: PeakParams) -> tuple[bool, JsonState]:
        return bool(history.size and history.max() > params.threshold), state

    PEAK: AlgorithmSpec[DetectorFunction] = AlgorithmSpec("peak", peak, PeakParams)

The same algorithms then run in the agents, the controller and the simulator.
"""

from __future__ import annotations

from fleetwise.core.global_manager import ClusterSnapshot, HostState, PlacedVm, Solution
from fleetwise.core.local_manager import HostObservation, LocalDecision
from fleetwise.core.overload import OVERLOAD
from fleetwise.core.placement import (
    PLACEMENT,
    HostCapacity,
    Hosts,
    HostTable,
    Placement,
    PlacementFn,
    PlacementFunction,
    VmDemand,
)
from fleetwise.core.power import PowerModel
from fleetwise.core.registry import AlgorithmSpec, NoParams, Params, Registry
from fleetwise.core.round import (
    FleetHost,
    FleetObservation,
    PendingRequest,
    RequestOutcome,
    RoundDecision,
    VmTable,
)
from fleetwise.core.selection import SELECTION
from fleetwise.core.types import (
    DetectorContext,
    DetectorFunction,
    FloatArray,
    HostDetector,
    JsonState,
    SelectionContext,
    SelectorFunction,
    VmObservation,
    VmSelector,
)
from fleetwise.core.underload import UNDERLOAD
from fleetwise.errors import InputError, ParameterError

__all__ = [
    "OVERLOAD",
    "PLACEMENT",
    "SELECTION",
    "UNDERLOAD",
    "AlgorithmSpec",
    "ClusterSnapshot",
    "DetectorContext",
    "DetectorFunction",
    "FleetHost",
    "FleetObservation",
    "FloatArray",
    "HostCapacity",
    "HostDetector",
    "HostObservation",
    "HostState",
    "HostTable",
    "Hosts",
    "InputError",
    "JsonState",
    "LocalDecision",
    "NoParams",
    "ParameterError",
    "Params",
    "PendingRequest",
    "PlacedVm",
    "Placement",
    "PlacementFn",
    "PlacementFunction",
    "PowerModel",
    "Registry",
    "RequestOutcome",
    "RoundDecision",
    "SelectionContext",
    "SelectorFunction",
    "Solution",
    "VmDemand",
    "VmObservation",
    "VmSelector",
    "VmTable",
]
