"""The local manager's decision for one host: underload, then overload, then VM selection.

Pure: the agent (or the simulator) passes what it observed and the detectors' saved
state, and gets back a :class:`LocalDecision` and the new state to persist. While
migrations away from the host are under way a request is held back (the detectors
still observe, so stateful ones keep counting).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.selection import SELECTION
from fleetwise.core.selection.simple import selection_key
from fleetwise.core.types import (
    DetectorContext,
    FloatArray,
    HostDetector,
    JsonState,
    SelectionContext,
    VmObservation,
    VmSelector,
)
from fleetwise.core.underload import UNDERLOAD
from fleetwise.errors import InputError

__all__ = [
    "AlgorithmChoice",
    "HostObservation",
    "LocalDecision",
    "LocalManager",
    "LocalManagerConfig",
    "host_utilisation_history",
]


class AlgorithmChoice(BaseModel):
    """An algorithm by registry name with its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class LocalManagerConfig(BaseModel):
    """Which algorithms the local manager runs, and the migration-time estimate's inputs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underload: AlgorithmChoice = AlgorithmChoice(
        name="last-n-average", params={"threshold": 0.5, "n": 2}
    )
    overload: AlgorithmChoice = AlgorithmChoice(name="thr", params={"threshold": 0.8})
    selection: AlgorithmChoice = AlgorithmChoice(name="mmt-max-cpu", params={"last_n": 2})
    time_step_s: float = Field(300.0, gt=0.0)
    migration_bandwidth_mb_s: float = Field(62.5, gt=0.0)
    max_vms_per_request: int = Field(0, ge=0, description="0: select until not overloaded")

    @model_validator(mode="after")
    def _known_algorithms(self) -> Self:
        """Unknown algorithms and bad parameters fail when the configuration loads."""
        for family, choice in (
            (UNDERLOAD, self.underload),
            (OVERLOAD, self.overload),
            (SELECTION, self.selection),
        ):
            try:
                family.params(choice.name, choice.params)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self


@dataclass(frozen=True)
class HostObservation:
    """What the collector saw on one host.

    VM and hypervisor CPU histories are in MHz, oldest first; ``capacity_mhz`` is the
    CPU the VMs may use. ``vms`` leaves out VMs migrating away; ``migrating`` tells
    whether migrations away from the host are under way.
    """

    host_id: str
    capacity_mhz: float
    vms: tuple[VmObservation, ...]
    hypervisor_mhz: FloatArray = field(default_factory=lambda: np.zeros(0))
    migrating: bool = False


@dataclass(frozen=True)
class LocalDecision:
    """``none``, or a reallocation request with its reason and the VMs to move.

    ``held_back`` marks a request not to send yet: migrations away from the host are
    under way, and what the host needs is known only once they have ended.
    """

    reason: Literal["none", "underload", "overload"]
    vm_ids: tuple[str, ...] = ()
    held_back: bool = False

    @property
    def request_reason(self) -> Literal["underload", "overload"] | None:
        """The reason of the request the shell sends now, or None if it sends none."""
        if self.held_back or self.reason == "none":
            return None
        return self.reason


def _history_matrix(vms: tuple[VmObservation, ...]) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The VMs' histories as rows aligned on their newest sample (zeros before a shorter
    one starts), and each VM's history length."""
    lengths = np.array([vm.cpu_history.size for vm in vms], dtype=np.intp)
    width = int(lengths.max()) if lengths.size else 0
    if lengths.size and int(lengths.min()) == width:
        return np.stack([vm.cpu_history for vm in vms]).astype(np.float64, copy=False), lengths
    matrix = np.zeros((len(vms), width))
    for row, vm in enumerate(vms):
        if vm.cpu_history.size:
            matrix[row, width - vm.cpu_history.size :] = vm.cpu_history
    return matrix, lengths


def _utilisation(
    matrix: FloatArray,
    lengths: npt.NDArray[np.intp],
    hypervisor_mhz: FloatArray,
    capacity_mhz: float,
) -> FloatArray:
    length = int(lengths.max()) if lengths.size else 0
    if length == 0 or capacity_mhz <= 0:
        return np.zeros(0)
    # Rows are added one after the other (a reduction over the outer axis), so the
    # result is the same as adding each VM's history in turn; zeros change nothing.
    total: FloatArray = np.add.reduce(matrix[:, matrix.shape[1] - length :], axis=0)
    hyp = hypervisor_mhz[-length:]
    if hyp.size:
        total[length - hyp.size :] += hyp
    out: FloatArray = total / capacity_mhz
    return out


def host_utilisation_history(obs: HostObservation) -> FloatArray:
    """(Σ VM MHz + hypervisor MHz) / capacity per sample, oldest first.

    Shorter histories are aligned on their newest sample and count 0 before it. VM
    histories are added one after the other, in the observation's order.
    """
    matrix, lengths = _history_matrix(obs.vms)
    return _utilisation(matrix, lengths, obs.hypervisor_mhz, obs.capacity_mhz)


class LocalManager:
    """A configured local manager (algorithms built and validated once)."""

    def __init__(self, config: LocalManagerConfig) -> None:
        self.config = config
        self._underload: HostDetector = UNDERLOAD.build(
            config.underload.name, config.underload.params
        )
        self._overload: HostDetector = OVERLOAD.build(config.overload.name, config.overload.params)
        self._select: VmSelector = SELECTION.build(config.selection.name, config.selection.params)
        # A keyed policy picks the first VM with the least key, a key of that VM alone:
        # the keys are computed once per decision instead of once per pick.
        self._key = selection_key(config.selection.name, config.selection.params)

    def migration_time_s(self, obs: HostObservation) -> float:
        """Mean VM RAM over the migration bandwidth."""
        if not obs.vms:
            return 0.0
        mean_ram = sum(vm.ram_mb for vm in obs.vms) / len(obs.vms)
        return mean_ram / self.config.migration_bandwidth_mb_s

    def decide(
        self, obs: HostObservation, state: Mapping[str, JsonState], seed: int = 0
    ) -> tuple[LocalDecision, dict[str, JsonState]]:
        """One decision for the host; returns it with the detectors' new state."""
        if not obs.vms:
            return LocalDecision("none"), dict(state)
        matrix, lengths = _history_matrix(obs.vms)
        history = _utilisation(matrix, lengths, obs.hypervisor_mhz, obs.capacity_mhz)
        ctx = DetectorContext(self.config.time_step_s, self.migration_time_s(obs))
        under_state = state.get("underload", {})
        over_state = state.get("overload", {})
        underloaded, under_state = self._underload(history, ctx, under_state)
        # Stateful overload detectors observe every interval, underloaded or not.
        overloaded, new_over_state = self._overload(history, ctx, over_state)
        new_state: dict[str, JsonState] = {"underload": under_state, "overload": new_over_state}
        if underloaded:
            vm_ids = tuple(vm.vm_id for vm in obs.vms)
            return LocalDecision("underload", vm_ids, held_back=obs.migrating), new_state
        if not overloaded:
            return LocalDecision("none"), new_state
        if obs.migrating:
            return LocalDecision("overload", held_back=True), new_state
        chosen = self._select_until_relieved(obs, (matrix, lengths), ctx, over_state, seed)
        return LocalDecision("overload", chosen), new_state

    def _select_until_relieved(
        self,
        obs: HostObservation,
        histories: tuple[FloatArray, npt.NDArray[np.intp]],
        ctx: DetectorContext,
        over_state: JsonState,
        seed: int,
    ) -> tuple[str, ...]:
        remaining = list(range(len(obs.vms)))
        matrix, lengths = histories
        chosen: list[str] = []
        limit = self.config.max_vms_per_request or len(remaining)
        keys = [self._key(vm) for vm in obs.vms] if self._key is not None else None
        while remaining and len(chosen) < limit:
            if keys is not None:
                index = min(range(len(remaining)), key=lambda i: keys[remaining[i]])
            else:
                candidates = tuple(obs.vms[k] for k in remaining)
                found = self._select(candidates, SelectionContext(seed=seed + len(chosen)))
                if found is None:
                    break
                index = found
            chosen.append(obs.vms[remaining.pop(index)].vm_id)
            if not remaining:
                break
            # Re-test with the state from before this interval: a what-if, not an observation.
            history = _utilisation(
                matrix[remaining], lengths[remaining], obs.hypervisor_mhz, obs.capacity_mhz
            )
            still, _ = self._overload(history, ctx, over_state)
            if not still:
                break
        return tuple(chosen)
