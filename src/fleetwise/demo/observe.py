"""What the demo shows: the fleet file's truth joined with the controller's view.

The fleet file tells which host runs which VM and the simulated time; the controller
tells power states, recent CPU samples, plans, migrations and its energy estimate.
The controller's figures cover real time; on a sped-up fleet they are scaled to
simulated time. If the controller does not answer, the last figures it gave stay.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from fleetwise.api.client import AdminClient
from fleetwise.api.schemas import FleetStats
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import DriverError, InputError

__all__ = ["EnergyFigures", "FleetStatus", "HostRow", "energy_figures", "observe"]


@dataclass(frozen=True)
class HostRow:
    """One host: its power state, VMs (from the fleet file) and CPU use (from samples)."""

    name: str
    power: str
    vms: int
    cpu_pct: float | None
    maintenance: bool = False


@dataclass(frozen=True)
class EnergyFigures:
    """Energy so far in simulated time, and what keeping every host awake would cost."""

    kwh: float
    all_awake_kwh: float

    @property
    def saving(self) -> float:
        """Fraction saved against keeping every host awake."""
        return 1.0 - self.kwh / self.all_awake_kwh if self.all_awake_kwh > 0 else 0.0


def energy_figures(
    stats: FleetStats, speedup: float, active_w: float, asleep_w: float
) -> EnergyFigures:
    """The controller's estimate in simulated time, and the all-awake reference.

    With hosts in transition drawing ``active_w`` (the demo's energy model), the
    estimate is ``T·active − asleep·(active − asleep_w)`` for a total host time ``T``,
    and ``aitf = asleep / T``; so the all-awake energy ``T·active`` follows from both.
    """
    kwh = stats.estimated_energy_kwh * speedup
    share = 1.0 - stats.aitf * (1.0 - asleep_w / active_w) if active_w > 0 else 1.0
    return EnergyFigures(kwh, kwh / share if share > 0 else kwh)


@dataclass(frozen=True)
class FleetStatus:
    """One look at the running demo."""

    sim_s: float
    hosts: tuple[HostRow, ...]
    vms: int
    migrations: int = 0
    plans: dict[str, int] = field(default_factory=dict)
    energy: EnergyFigures | None = None
    controller_ok: bool = False

    def hosts_in(self, *states: str) -> int:
        """How many hosts are in one of ``states``."""
        return sum(1 for h in self.hosts if h.power in states)


def observe(
    fleet: SharedFleet,
    admin: AdminClient,
    *,
    speedup: float,
    active_w: float,
    asleep_w: float,
    previous: FleetStatus | None = None,
) -> FleetStatus:
    """Read the fleet file and ask the controller; never raises for a silent controller."""
    placement = fleet.placement()
    sim_s = fleet.sim_time()
    vms = sum(len(v) for v in placement.values())
    try:
        hosts = {h.name: h for h in admin.hosts()}
        vm_views = admin.vms()
        plans = Counter(p.state for p in admin.plans())
        stats = admin.stats()
    except (DriverError, InputError):
        rows = tuple(
            replace(_old_row(previous, name), vms=len(uuids)) for name, uuids in placement.items()
        )
        if previous is None:
            return FleetStatus(sim_s, rows, vms)
        return replace(previous, sim_s=sim_s, hosts=rows, vms=vms, controller_ok=False)
    used: dict[str, float] = {}
    for vm in vm_views:
        if vm.host is not None and vm.cpu_mhz is not None:
            used[vm.host] = used.get(vm.host, 0.0) + vm.cpu_mhz
    host_rows: list[HostRow] = []
    for name, uuids in placement.items():
        view = hosts.get(name)
        if view is None:
            host_rows.append(HostRow(name, "starting", len(uuids), None))
            continue
        awake = view.power_state == "active"
        cpu = 100.0 * used.get(name, 0.0) / view.cpu_mhz if awake and view.cpu_mhz > 0 else None
        host_rows.append(HostRow(name, view.power_state, len(uuids), cpu, view.maintenance))
    return FleetStatus(
        sim_s=sim_s,
        hosts=tuple(host_rows),
        vms=vms,
        migrations=stats.migrations_total,
        plans=dict(plans),
        energy=energy_figures(stats, speedup, active_w, asleep_w),
        controller_ok=True,
    )


def _old_row(previous: FleetStatus | None, name: str) -> HostRow:
    if previous is not None:
        for row in previous.hosts:
            if row.name == name:
                return row
    return HostRow(name, "unknown", 0, None)
