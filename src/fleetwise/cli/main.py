"""Entry point of the ``fleetwise`` command: sub-commands and error handling.

Sub-commands are imported only when they run (or show their own help), so that
``fleetwise --help`` and the admin commands start without the simulator's or the
agent's dependencies (numba, scipy, matplotlib). The summaries listed by
``fleetwise --help`` are kept here for that reason; a test checks them against the
commands' own. ``fleetwise simulate`` with the usual options skips the CLI framework
altogether (:mod:`fleetwise.cli.quick`).

Bad input (a :class:`~fleetwise.errors.InputError`) prints one ``error:`` line and
exits with status 2; a failing driver or peer exits with status 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NamedTuple

from fleetwise.errors import FleetwiseError, InputError

__all__ = ["SUBCOMMANDS", "build_app", "load_subcommand", "main"]


class Subcommand(NamedTuple):
    """Where a sub-command lives: a Typer app or a command function."""

    module: str
    attribute: str
    summary: str
    command_class: str | None = None  # a command function's click class, in ``module``


SUBCOMMANDS: dict[str, Subcommand] = {
    "simulate": Subcommand(
        "fleetwise.cli.simulate",
        "simulate",
        "Simulate one day of traces under one policy and print the results.",
    ),
    "sweep": Subcommand(
        "fleetwise.cli.simulate",
        "sweep",
        "Run policies × days in parallel and write medians in the layout of Table V.",
    ),
    "demo": Subcommand(
        "fleetwise.demo.cli",
        "demo",
        "Run a lab of a simulated fleet and watch it consolidate.",
    ),
    "hosts": Subcommand(
        "fleetwise.cli.admin",
        "hosts_app",
        "Inspect hosts, switch maintenance mode, evacuate a host.",
    ),
    "vms": Subcommand("fleetwise.cli.admin", "vms_app", "Inspect VMs."),
    "plans": Subcommand(
        "fleetwise.cli.admin", "plans_app", "Inspect, approve, cancel plans and skip actions."
    ),
    "migrations": Subcommand(
        "fleetwise.cli.admin",
        "migrations_app",
        "Inspect live migrations; say where the VM of a stuck one is.",
    ),
    "stats": Subcommand(
        "fleetwise.cli.admin",
        "stats",
        "Fleet figures: hosts by state, VMs, migrations, AOTF, AITF, energy.",
        command_class="AdminCommand",
    ),
    "lab": Subcommand(
        "fleetwise.lab.cli",
        "lab_app",
        "A local lab to try fleetwise by hand, faults included.",
    ),
    "agent": Subcommand(
        "fleetwise.agent.cli",
        "agent_app",
        "Run the agent of one host, or set up a shared simulated fleet.",
    ),
    "controller": Subcommand(
        "fleetwise.controller.cli",
        "app",
        "The controller: REST API, global manager and plan executor.",
    ),
}


def load_subcommand(name: str) -> Any:
    """Import sub-command ``name`` and build its click command."""
    import typer

    entry = SUBCOMMANDS[name]
    module = importlib.import_module(entry.module)
    target = getattr(module, entry.attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # as ``add_typer`` would: always a group
    else:
        single = typer.Typer(add_completion=False)
        cls = getattr(module, entry.command_class) if entry.command_class else None
        single.command(name, cls=cls)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


def build_app() -> Any:
    """The ``fleetwise`` Typer app, its sub-commands listed but not imported."""
    import typer
    from typer.core import TyperCommand, TyperGroup

    from fleetwise.cli.root import root

    class LazyGroup(TyperGroup):
        """A group that imports a sub-command when it is used, not to list it."""

        _listing = False

        def list_commands(self, ctx: Any) -> list[str]:
            return list(SUBCOMMANDS)

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            if cmd_name not in SUBCOMMANDS:
                return None
            if self._listing:
                return TyperCommand(name=cmd_name, help=SUBCOMMANDS[cmd_name].summary)
            return load_subcommand(cmd_name)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

    app = typer.Typer(
        name="fleetwise",
        cls=LazyGroup,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    app.callback()(root)

    return app


def _quick_simulate(args: list[str]) -> Any:
    """``simulate``'s options if it can run without the CLI framework, else None."""
    if not args or args[0] != "simulate":
        return None
    from fleetwise.cli.quick import parse

    return parse(args[1:])


def main() -> None:
    """Run the CLI, turning fleetwise errors into one line and an exit status."""
    try:
        quick = _quick_simulate(sys.argv[1:])
        if quick is not None:
            from fleetwise.cli.quick import run

            run(quick)
        else:
            build_app()()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except FleetwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
