"""The fleet as the round sees it, built from what the store holds.

Times become seconds since the Unix epoch, so the decision core compares heartbeats
and request ages with ``now`` without knowing about time zones. A host's CPU is its
usable MHz (cores × MHz × usable fraction, as stored); its hypervisor overhead is
its latest host sample's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fleetwise.core.power import PowerModel
from fleetwise.core.round import (
    FleetHost,
    FleetObservation,
    FleetVm,
    MigrationInFlight,
    PendingRequest,
    VmTable,
    unreachable,
)
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.fleet import FleetData
from fleetwise.store.views import HostView

__all__ = ["fleet_host", "is_unreachable", "observe_fleet"]


def fleet_host(
    host: HostView,
    *,
    power_control: bool = True,
    power_model: PowerModel | None = None,
    hypervisor_mhz: float = 0.0,
) -> FleetHost:
    """A stored host as the decision core sees it."""
    return FleetHost(
        host_id=host.name,
        cpu_mhz=float(host.cpu_mhz),
        ram_mb=float(host.ram_mb),
        power=host.power_state,
        last_heard_s=None if host.last_heartbeat is None else host.last_heartbeat.timestamp(),
        maintenance=host.maintenance,
        hypervisor_mhz=hypervisor_mhz,
        power_model=power_model,
        power_control=power_control,
        quarantined=host.quarantined_at is not None,
    )


def is_unreachable(host: HostView, now: datetime, heartbeat_timeout_s: float) -> bool:
    """Whether ``host`` should be awake but its agent has gone silent (see the core's rule)."""
    return unreachable(fleet_host(host), now.timestamp(), heartbeat_timeout_s)


def observe_fleet(
    fleet: FleetData,
    *,
    now: datetime,
    power_control: Callable[[str], bool],
    power_model: Callable[[str], PowerModel | None] = lambda host: None,
) -> FleetObservation:
    """The decision core's view of ``fleet`` at ``now``."""
    return FleetObservation(
        now_s=now.timestamp(),
        hosts=tuple(
            fleet_host(
                h,
                power_control=power_control(h.name),
                power_model=power_model(h.name),
                hypervisor_mhz=_hypervisor_mhz(fleet, h.name),
            )
            for h in fleet.hosts
        ),
        vms=VmTable.of(
            [
                FleetVm(
                    vm_id=vm.uuid,
                    host_id=vm.host,
                    ram_mb=float(vm.ram_mb),
                    capacity_mhz=float(vm.capacity_mhz),
                    cpu_mhz=[s.cpu_mhz for s in fleet.vm_samples.get(vm.uuid, ())],
                )
                for vm in fleet.vms
            ]
        ),
        requests=tuple(
            PendingRequest(
                request_id=r.id,
                host_id=r.host,
                reason="overload" if r.reason is ReallocationReason.OVERLOAD else "underload",
                vm_ids=r.vm_uuids,
                received_s=r.received_at.timestamp(),
            )
            for r in fleet.requests
        ),
        open_plans=fleet.open_plans,
        migrations=tuple(
            MigrationInFlight(m.vm_uuid, m.source_host, m.destination_host)
            for m in fleet.migrations
        ),
    )


def _hypervisor_mhz(fleet: FleetData, host: str) -> float:
    latest = fleet.host_samples.get(host, ())
    return float(latest[-1].hypervisor_mhz) if latest else 0.0
