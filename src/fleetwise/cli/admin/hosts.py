"""``fleetwise hosts list|show|maintenance|evacuate``."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Group

from fleetwise.api.client import Call, Calls
from fleetwise.api.schemas import Evacuation, HostOut
from fleetwise.cli.admin.command import admin_command, admin_group
from fleetwise.cli.admin.render import (
    Column,
    Grid,
    count,
    fields,
    number,
    table,
    text,
    when,
    yes_no,
)
from fleetwise.errors import InputError

__all__ = ["hosts_app"]

hosts_app = admin_group("Inspect hosts, switch maintenance mode, evacuate a host.")

HostArgument = Annotated[str, typer.Argument(help="The host's name.", show_default=False)]


_FLAGS = ("maintenance", "unreachable", "quarantined")


def _flags(host: HostOut) -> list[str]:
    return [flag for flag in _FLAGS if getattr(host, flag)]


def status(host: HostOut) -> str:
    """``ok``, or what keeps the host out of placement: maintenance, unreachable, quarantined."""
    return ", ".join(_flags(host)) or "ok"


def _title(hosts: list[HostOut]) -> str:
    flagged = Counter(flag for h in hosts for flag in _flags(h))
    notes = [
        f"{flagged[flag]} {'in ' if flag == 'maintenance' else ''}{flag}"
        for flag in _FLAGS
        if flagged[flag]
    ]
    return count(len(hosts), "host") + (f" ({', '.join(notes)})" if notes else "")


def hosts_table(hosts: list[HostOut]) -> Grid:
    columns = (
        Column("host", "id"),
        Column("power", "word"),
        Column("status"),
        Column("VMs", "id", right=True),
        Column("CPU\nMHz", "id", right=True),
        Column("RAM\nMB", "id", right=True),
        Column("last heartbeat", "word"),
    )
    rows = [
        (
            h.name,
            h.power_state,
            status(h),
            str(h.vms),
            number(h.cpu_mhz),
            number(h.ram_mb),
            when(h.last_heartbeat),
        )
        for h in hosts
    ]
    return table(_title(hosts), columns, rows)


def host_fields(host: HostOut) -> Group:
    return fields(
        f"host {host.name}",
        [
            ("name", host.name),
            ("power state", host.power_state),
            ("status", status(host)),
            ("maintenance", yes_no(host.maintenance)),
            ("unreachable", yes_no(host.unreachable)),
            ("quarantined", yes_no(host.quarantined)),
            ("quarantine reason", text(host.quarantine_reason)),
            ("VMs", str(host.vms)),
            ("CPU cores", text(host.cpu_cores)),
            ("core MHz", number(host.core_mhz)),
            ("CPU MHz", number(host.cpu_mhz)),
            ("RAM MB", number(host.ram_mb)),
            ("hypervisor URI", text(host.hypervisor_uri)),
            ("migration URI", text(host.migration_uri)),
            ("registered", when(host.registered_at)),
            ("last heartbeat", when(host.last_heartbeat)),
        ],
    )


def maintenance_line(host: HostOut) -> str:
    return f"{host.name}: maintenance {'on' if host.maintenance else 'off'}"


def evacuation_line(evacuation: Evacuation) -> str:
    host = evacuation.host
    if evacuation.plan_id is not None:
        how = f"plan {evacuation.plan_id} drains it"
    elif host.vms == 0:
        how = "it holds no VMs: nothing to drain"
    else:
        fit = "it fits" if host.vms == 1 else "they fit"
        how = (
            f"no plan drains its {count(host.vms, 'VM')} yet (an open plan holds the drain "
            f"back, or {fit} on no other host now); every round tries again"
        )
    return f"{host.name}: maintenance on; {how}"


@admin_command(hosts_app, "list", hosts_table)
def hosts_list() -> Call[list[HostOut]]:
    """All hosts: power, status, VMs, capacity, last heartbeat.

    The status says what keeps a host out of placement: maintenance, unreachable
    (its agent has gone silent) or quarantined (until its agent reports its VMs).
    """
    return Calls.hosts()


@admin_command(hosts_app, "show", host_fields)
def hosts_show(name: HostArgument) -> Call[HostOut]:
    """One host: every field the controller knows of it."""
    return Calls.host(name)


@admin_command(hosts_app, "maintenance", maintenance_line)
def hosts_maintenance(
    name: HostArgument,
    state: Annotated[str, typer.Argument(help="on or off", show_default=False)],
) -> Call[HostOut]:
    """Switch maintenance on (drain, keep out of placement) or off.

    On: the next planning round drains the host.
    Off: the drain's migrations that have not started are skipped.
    """
    if state not in ("on", "off"):
        raise InputError(f"maintenance state must be 'on' or 'off', not {state!r}")
    return Calls.maintenance(name, state == "on")


@admin_command(hosts_app, "evacuate", evacuation_line)
def hosts_evacuate(name: HostArgument) -> Call[Evacuation]:
    """Drain a host now: maintenance on and a planning round at once.

    Prints the plan that drains it, or why none does yet.
    The host stays out of placement until maintenance is turned off.
    """
    return Calls.evacuate(name)
