"""``fleetwise stats``."""

from __future__ import annotations

from rich.console import Group

from fleetwise.api.client import Call, Calls
from fleetwise.api.schemas import FleetStats
from fleetwise.cli.admin.command import admin_command
from fleetwise.cli.admin.render import count, fields, number

__all__ = ["stats"]


def stats_fields(stats: FleetStats) -> Group:
    hosts = sum(stats.hosts_by_state.values())
    return fields(
        f"fleet: {count(hosts, 'host')}, {count(stats.vms, 'VM')}",
        [
            *((f"hosts {state}", str(n)) for state, n in stats.hosts_by_state.items()),
            ("hosts unreachable", str(stats.hosts_unreachable)),
            ("hosts quarantined", str(stats.hosts_quarantined)),
            ("VMs", str(stats.vms)),
            ("migrations started", number(stats.migrations_total)),
            ("AOTF", f"{stats.aotf:.2%} (time awake hosts spent overloaded)"),
            ("AITF", f"{stats.aitf:.2%} (time hosts spent asleep)"),
            ("estimated energy", f"{stats.estimated_energy_kwh:.3f} kWh"),
        ],
    )


@admin_command(None, "stats", stats_fields)
def stats() -> Call[FleetStats]:
    """Fleet figures: hosts by state, VMs, migrations, AOTF, AITF, energy.

    AOTF, AITF and energy cover the controller's metrics window (metrics.window_s).
    """
    return Calls.stats()
