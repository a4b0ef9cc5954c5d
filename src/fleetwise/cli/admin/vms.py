"""``fleetwise vms list|show``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Group

from fleetwise.api.client import Call, Calls
from fleetwise.api.schemas import VmOut
from fleetwise.cli.admin.command import admin_command, admin_group
from fleetwise.cli.admin.render import Column, Grid, count, fields, number, table, text, when

__all__ = ["vms_app"]

vms_app = admin_group("Inspect VMs.")


def vms_table(vms: list[VmOut]) -> Grid:
    columns = (
        Column("uuid", "id"),
        Column("name"),
        Column("host", "word"),
        Column("state", "word"),
        Column("vCPUs", "id", right=True),
        Column("RAM\nMB", "id", right=True),
        Column("CPU\nMHz", "id", right=True),
    )
    rows = [
        (
            v.uuid,
            text(v.name),
            text(v.host),
            v.state,
            str(v.vcpus),
            number(v.ram_mb),
            number(v.cpu_mhz),
        )
        for v in vms
    ]
    return table(count(len(vms), "VM"), columns, rows)


def vm_fields(vm: VmOut) -> Group:
    return fields(
        f"VM {vm.uuid}",
        [
            ("uuid", vm.uuid),
            ("name", text(vm.name)),
            ("host", text(vm.host)),
            ("state", vm.state),
            ("vCPUs", str(vm.vcpus)),
            ("RAM MB", number(vm.ram_mb)),
            ("CPU MHz", number(vm.cpu_mhz)),
            ("capacity MHz", number(vm.capacity_mhz)),
            ("located", when(vm.located_at)),
            ("reported", when(vm.reported_at)),
        ],
    )


@admin_command(vms_app, "list", vms_table)
def vms_list(
    host: Annotated[str | None, typer.Option(help="Only the VMs on this host.")] = None,
) -> Call[list[VmOut]]:
    """All VMs (or those on one host): host, state, size and latest CPU use."""
    return Calls.vms(host)


@admin_command(vms_app, "show", vm_fields)
def vms_show(
    uuid: Annotated[str, typer.Argument(help="The VM's UUID.", show_default=False)],
) -> Call[VmOut]:
    """One VM: every field the controller knows of it."""
    return Calls.vm(uuid)
