"""Admin commands: ``fleetwise hosts|vms|plans …`` against the controller's REST API.

The controller URL and admin token come from ``--url``/``--token`` or the environment
variables ``FLEETWISE_URL`` and ``FLEETWISE_TOKEN`` (or ``--token-file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fleetwise.api.client import AdminClient
from fleetwise.api.schemas import PlanOut
from fleetwise.errors import InputError

__all__ = ["hosts_app", "plans_app", "vms_app"]

console = Console()

UrlOption = Annotated[str, typer.Option(envvar="FLEETWISE_URL", help="Controller URL.")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="FLEETWISE_TOKEN", help="Admin token.", show_default=False)
]
TokenFileOption = Annotated[Path | None, typer.Option(help="File holding the admin token.")]

DEFAULT_URL = "http://127.0.0.1:8750"

hosts_app = typer.Typer(help="Inspect hosts and switch maintenance mode.", no_args_is_help=True)
vms_app = typer.Typer(help="Inspect VMs.", no_args_is_help=True)
plans_app = typer.Typer(
    help="Inspect, approve, cancel plans and skip actions.", no_args_is_help=True
)


def _client(url: str, token: str | None, token_file: Path | None) -> AdminClient:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read token file {token_file}: {exc.strerror}") from None
    if not token:
        raise InputError("no admin token: pass --token, --token-file or set FLEETWISE_TOKEN")
    return AdminClient(url, token)


@hosts_app.command("list")
def hosts_list(
    url: UrlOption = DEFAULT_URL, token: TokenOption = None, token_file: TokenFileOption = None
) -> None:
    """All hosts with power state, maintenance flag and VM count."""
    with _client(url, token, token_file) as client:
        hosts = client.hosts()
    table = Table(title=f"{len(hosts)} hosts")
    for col in ("host", "power", "maintenance", "VMs", "CPU MHz", "RAM MB", "last heartbeat"):
        table.add_column(col)
    for h in hosts:
        table.add_row(
            h.name, h.power_state, "yes" if h.maintenance else "", str(h.vms),
            f"{h.cpu_mhz:.0f}", str(h.ram_mb),
            h.last_heartbeat.isoformat(timespec="seconds") if h.last_heartbeat else "-",
        )  # fmt: skip
    console.print(table)


@hosts_app.command("show")
def hosts_show(
    name: str,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """One host."""
    with _client(url, token, token_file) as client:
        console.print(client.host(name).model_dump())


@hosts_app.command("maintenance")
def hosts_maintenance(
    name: str,
    state: Annotated[str, typer.Argument(help="on or off")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Drain a host and keep it out of placement (on), or return it (off)."""
    if state not in ("on", "off"):
        raise InputError(f"maintenance state must be 'on' or 'off', not {state!r}")
    with _client(url, token, token_file) as client:
        host = client.maintenance(name, state == "on")
    console.print(f"{host.name}: maintenance {'on' if host.maintenance else 'off'}")


@vms_app.command("list")
def vms_list(
    url: UrlOption = DEFAULT_URL, token: TokenOption = None, token_file: TokenFileOption = None
) -> None:
    """All VMs with their host."""
    with _client(url, token, token_file) as client:
        vms = client.vms()
    table = Table(title=f"{len(vms)} VMs")
    for col in ("uuid", "host", "state", "vCPUs", "RAM MB", "CPU MHz"):
        table.add_column(col)
    for v in vms:
        cpu = "-" if v.cpu_mhz is None else f"{v.cpu_mhz:.0f}"
        table.add_row(v.uuid, v.host or "-", v.state, str(v.vcpus), str(v.ram_mb), cpu)
    console.print(table)


def _plan_table(plans: list[PlanOut]) -> Table:
    table = Table(title=f"{len(plans)} plans")
    for col in ("id", "state", "mode", "reason", "created", "actions"):
        table.add_column(col)
    for p in plans:
        counts: dict[str, int] = {}
        for a in p.actions:
            counts[a.kind] = counts.get(a.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "-"
        table.add_row(
            str(p.id), p.state, p.mode, p.reason, p.created_at.isoformat(timespec="seconds"),
            summary,
        )  # fmt: skip
    return table


@plans_app.command("list")
def plans_list(
    url: UrlOption = DEFAULT_URL, token: TokenOption = None, token_file: TokenFileOption = None
) -> None:
    """All plans, newest first."""
    with _client(url, token, token_file) as client:
        console.print(_plan_table(client.plans()))


@plans_app.command("show")
def plans_show(
    plan_id: int,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """One plan with its actions."""
    with _client(url, token, token_file) as client:
        plan = client.plan(plan_id)
    console.print(_plan_table([plan]))
    table = Table(title="actions")
    for col in ("id", "kind", "state", "VM", "from", "to", "attempts", "error"):
        table.add_column(col)
    for a in plan.actions:
        table.add_row(
            str(a.id), a.kind, a.state, a.vm_uuid or "-", a.source or "-", a.destination or "-",
            str(a.attempts), a.last_error or "",
        )  # fmt: skip
    console.print(table)


@plans_app.command("approve")
def plans_approve(
    plan_id: int,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Start a recommended plan."""
    with _client(url, token, token_file) as client:
        plan = client.approve(plan_id)
    console.print(f"plan {plan.id}: {plan.state}")


@plans_app.command("cancel")
def plans_cancel(
    plan_id: int,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Cancel a plan; actions not started are cancelled too."""
    with _client(url, token, token_file) as client:
        plan = client.cancel(plan_id)
    console.print(f"plan {plan.id}: {plan.state}")


@plans_app.command("skip")
def plans_skip(
    action_id: int,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Skip one pending action of a plan."""
    with _client(url, token, token_file) as client:
        action = client.skip(action_id)
    console.print(f"action {action.id}: {action.state}")
