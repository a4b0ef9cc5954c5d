"""The cluster as the global manager's decision core sees it, built from the store.

* A VM's CPU demand is the mean of its last two samples (MHz); a VM without samples
  counts with its full capacity, so it is never squeezed in by mistake.
* A host's capacity is its usable MHz (cores × MHz × usable fraction, as stored);
  its hypervisor overhead is the latest host sample's.
* Awake hosts whose agent has been silent longer than the heartbeat timeout, hosts
  between power states, and hosts that a running migration leaves or enters (its
  outcome may still be unknown) are left out: nothing moves to or from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from fleetwise.core.global_manager import ClusterSnapshot, HostState, VmState
from fleetwise.core.lifecycle import HostPowerState
from fleetwise.store.controller_ops import FleetData
from fleetwise.store.views import CpuSample, HostCpuSample, HostView, VmView

__all__ = ["DEMAND_SAMPLES", "build_snapshot", "reachable", "vm_demand"]

DEMAND_SAMPLES = 2


def reachable(host: HostView, now: datetime, heartbeat_timeout_s: float) -> bool:
    """Whether ``host`` may take part in a plan: asleep, or awake with a recent heartbeat."""
    if host.power_state is HostPowerState.ASLEEP:
        return True
    if host.power_state is not HostPowerState.ACTIVE or host.last_heartbeat is None:
        return False
    return now - host.last_heartbeat <= timedelta(seconds=heartbeat_timeout_s)


def vm_demand(vm: VmView, samples: Sequence[CpuSample]) -> float:
    """CPU demand of ``vm`` in MHz: mean of its latest samples, else its capacity."""
    recent = samples[-DEMAND_SAMPLES:]
    if not recent:
        return float(vm.capacity_mhz)
    return sum(s.cpu_mhz for s in recent) / len(recent)


def build_snapshot(
    fleet: FleetData, *, now: datetime, heartbeat_timeout_s: float
) -> ClusterSnapshot:
    """The decision core's view of ``fleet`` at ``now``."""
    hosts = [
        h
        for h in fleet.hosts
        if reachable(h, now, heartbeat_timeout_s) and h.name not in fleet.migrating_hosts
    ]
    names = {h.name for h in hosts}
    return ClusterSnapshot(
        hosts=tuple(_host_state(h, fleet.host_samples) for h in hosts),
        vms=tuple(
            VmState(
                vm_id=vm.uuid,
                host_id=vm.host,
                cpu=vm_demand(vm, fleet.vm_samples.get(vm.uuid, ())),
                ram=float(vm.ram_mb),
            )
            for vm in fleet.vms
            if vm.host is not None and vm.host in names
        ),
    )


def _host_state(host: HostView, samples: Mapping[str, Sequence[HostCpuSample]]) -> HostState:
    latest = samples.get(host.name, ())
    hypervisor = latest[-1].hypervisor_mhz if latest else 0.0
    return HostState(
        host_id=host.name,
        cpu_total=float(host.cpu_mhz),
        ram_total=float(host.ram_mb),
        power="asleep" if host.power_state is HostPowerState.ASLEEP else "awake",
        maintenance=host.maintenance,
        hypervisor_mhz=float(hypervisor),
    )
