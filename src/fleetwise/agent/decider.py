"""The local manager's shell: observation from the local history → core decision.

Runs after each collection. The detectors' state (OTF and MHOD counters) is passed in
and saved after every call, so it survives restarts. The migration-time estimate is
recomputed from the current VMs' RAM on every call (inside the core's ``decide``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection as AbstractCollection
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fleetwise.agent.collector import Collection
from fleetwise.agent.history import UsageHistory
from fleetwise.agent.persist import JsonFile
from fleetwise.core.local_manager import (
    HostObservation,
    LocalDecision,
    LocalManager,
    LocalManagerConfig,
)
from fleetwise.core.types import VmObservation
from fleetwise.drivers.hypervisor.base import VmState
from fleetwise.errors import InputError

__all__ = ["DeciderState", "LocalDecider"]

logger = logging.getLogger(__name__)


class DeciderState(BaseModel):
    """What the local manager keeps between calls: detector state and a call count."""

    model_config = ConfigDict(extra="forbid")

    detectors: dict[str, Any] = Field(default_factory=dict)
    decisions: int = Field(default=0, ge=0)


class LocalDecider:
    """Decides, for one host, whether to ask the global manager for a reallocation."""

    def __init__(
        self,
        host: str,
        config: LocalManagerConfig,
        state_file: JsonFile[DeciderState],
        *,
        usable_fraction: float,
    ) -> None:
        self._host = host
        self._manager = LocalManager(config)
        self._file = state_file
        self._usable = usable_fraction
        self.state = state_file.load(DeciderState())

    def observe(
        self,
        collection: Collection,
        history: UsageHistory,
        leaving: AbstractCollection[str],
        migrating: bool = False,
    ) -> HostObservation:
        """The host as the core sees it: running VMs with history, minus ``leaving`` ones;
        ``migrating`` tells whether migrations away from the host are under way."""
        host = collection.host
        vms = tuple(
            VmObservation(
                vm_id=vm.uuid,
                ram_mb=float(vm.ram_mb),
                capacity=vm.vcpus * host.core_mhz,
                cpu_history=np.asarray(history.vms[vm.uuid], dtype=np.float64),
            )
            for vm in sorted(collection.vms, key=lambda v: v.uuid)
            if vm.state is VmState.RUNNING and history.vms.get(vm.uuid) and vm.uuid not in leaving
        )
        return HostObservation(
            host_id=self._host,
            capacity_mhz=host.total_mhz * self._usable,
            vms=vms,
            hypervisor_mhz=np.asarray(history.hypervisor, dtype=np.float64),
            migrating=migrating,
        )

    def decide(
        self,
        collection: Collection,
        history: UsageHistory,
        leaving: AbstractCollection[str] = (),
        migrating: bool = False,
    ) -> LocalDecision:
        """Run the detectors and VM selection; the new detector state is saved."""
        obs = self.observe(collection, history, leaving, migrating)
        seed = self.state.decisions
        try:
            decision, detectors = self._manager.decide(obs, self.state.detectors, seed=seed)
        except InputError as exc:
            logger.error("saved detector state is unusable (%s); starting it afresh", exc)
            decision, detectors = self._manager.decide(obs, {}, seed=seed)
        self.state = DeciderState(
            detectors={key: dict(value) for key, value in detectors.items()},
            decisions=self.state.decisions + 1,
        )
        self._file.save(self.state)
        if decision.held_back:
            logger.info("%s request held back: migrations are under way", decision.reason)
        elif decision.reason != "none":
            logger.info(
                "host %s is %sed: asking to move %d VM(s); estimated migration time %.1f s",
                self._host,
                decision.reason,
                len(decision.vm_ids),
                self._manager.migration_time_s(obs),
            )
        return decision
