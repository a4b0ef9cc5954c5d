"""Entry point of the ``fleetwise`` command: sub-commands and error handling.

Bad input (a :class:`~fleetwise.errors.InputError`) prints one ``error:`` line and
exits with status 2; a failing driver or peer exits with status 1.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fleetwise import __version__
from fleetwise.agent.cli import agent_app
from fleetwise.cli import admin
from fleetwise.cli import simulate as simulate_cmds
from fleetwise.controller.cli import app as controller_app
from fleetwise.demo.cli import demo
from fleetwise.errors import FleetwiseError, InputError
from fleetwise.lab.cli import lab_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="fleetwise",
    help="Energy-aware consolidation of virtualisation hosts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        print(f"fleetwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Energy-aware consolidation of virtualisation hosts."""


app.command("simulate")(simulate_cmds.simulate)
app.command("sweep")(simulate_cmds.sweep)
app.add_typer(admin.hosts_app, name="hosts")
app.add_typer(admin.vms_app, name="vms")
app.add_typer(admin.plans_app, name="plans")
app.add_typer(admin.migrations_app, name="migrations")
app.command("stats", cls=admin.AdminCommand)(admin.stats)
app.add_typer(agent_app, name="agent")
app.add_typer(controller_app, name="controller")
app.command("demo")(demo)
app.add_typer(lab_app, name="lab")


def main() -> None:
    """Run the CLI, turning fleetwise errors into one line and an exit status."""
    try:
        app()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except FleetwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
