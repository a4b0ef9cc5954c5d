"""``fleetwise lab up|status|crash|kill|start|down``: a local lab to try fleetwise by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fleetwise.lab.paths import DEFAULT_STATE_DIR
from fleetwise.lab.record import ENV_LAB_DIR

__all__ = ["lab_app"]

lab_app = typer.Typer(
    help=(
        "A local lab to try fleetwise by hand, faults included.\n\n"
        "A controller and one agent per host of a simulated fleet, running in the "
        "background on loopback (SQLite, no root needed). Start with 'fleetwise lab up'."
    ),
    no_args_is_help=True,
)

StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar=ENV_LAB_DIR,
        help="The lab's state directory: configurations, databases, logs, lab.env.",
    ),
]

console = Console(highlight=False)


def say(text: str) -> None:
    """Print one line, never wrapped (it may hold paths and URLs to copy)."""
    console.print(text, soft_wrap=True)


ARRIVALS = {
    "answers": "it answers",
    "registered": "it registered with the controller",
    "asleep": "its host sleeps: it registers once the controller wakes the host",
    None: "the controller is not running: it registers once 'fleetwise lab start controller' ran",
}


UP_HELP = (
    "Start a controller and one agent per host in the background; return once all "
    "registered.\n\n"
    "Writes STATE_DIR/lab.env (FLEETWISE_URL, FLEETWISE_TOKEN) for the admin commands. A "
    "stopped lab in STATE_DIR is started again with its state. See docs/lab.md."
)
STATUS_HELP = (
    "Each process of the lab (role, host, pid, alive) and the controller's URL.\n\n"
    "--json prints one object: {state_dir, url, env_file, speedup, processes: [{name, "
    "role (controller or agent), host (null for the controller), pid (of the last start, "
    "null if never started), alive, log}]}."
)


@lab_app.command("up", help=UP_HELP)
def up(
    hosts: Annotated[
        int | None,
        typer.Option(help="Simulated hosts, one agent process each (1-50; default 3)."),
    ] = None,
    vms: Annotated[
        int | None,
        typer.Option(help="VMs, each replaying one PlanetLab trace (default: 2 per host)."),
    ] = None,
    speedup: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per real second (1-1000; default 300)."),
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Bundled PlanetLab day (default 20110303).")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Start the lab in the background (see UP_HELP)."""
    from fleetwise.lab.control import Lab
    from fleetwise.lab.record import LabShape
    from fleetwise.lab.signals import interrupt, route_signals
    from fleetwise.lab.views import up_message

    shape = LabShape.of(hosts=hosts, vms=vms, speedup=speedup, day=day)
    asked = {"hosts": hosts, "vms": vms, "speedup": speedup, "day": day}
    given = [name for name, value in asked.items() if value is not None]
    lab = Lab(state_dir)
    try:
        with route_signals(interrupt):
            result = lab.up(shape, given=given)
    except KeyboardInterrupt:
        typer.echo("error: interrupted; nothing of the lab is left running", err=True)
        raise typer.Exit(130) from None
    for line in up_message(lab.paths, result):
        say(line)


@lab_app.command("status", help=STATUS_HELP)
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with the fields above.")
    ] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show the lab's processes (see STATUS_HELP)."""
    from fleetwise.lab.control import Lab
    from fleetwise.lab.views import status_json, status_table

    lab = Lab(state_dir)
    record, rows = lab.status()
    if as_json:
        typer.echo(json.dumps(status_json(lab.paths, record, rows), indent=2))
    else:
        console.print(status_table(lab.paths, record, rows), soft_wrap=True)


@lab_app.command("crash")
def crash(
    vm: Annotated[str, typer.Argument(help="The VM's UUID (or its name in the fleet).")],
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Make a simulated VM crash without the controller asking: it is gone from its host."""
    from fleetwise.lab.control import Lab

    crashed = Lab(state_dir).crash(vm)
    say(
        f"VM {crashed.name} ({crashed.uuid}) crashed on {crashed.host}; its agent reports "
        "it gone at its next collection"
    )


@lab_app.command("kill")
def kill(
    name: Annotated[str, typer.Argument(help="'controller' or a host name.")],
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Stop one process of the lab at once with SIGKILL (no clean-up in it)."""
    from fleetwise.lab.control import Lab

    process = Lab(state_dir).kill(name)
    say(f"killed {process.name} (pid {process.pid}) with SIGKILL")


@lab_app.command("start")
def start(
    name: Annotated[str, typer.Argument(help="'controller' or a host name.")],
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Start one stopped process of the lab again with its state, and wait until it is up."""
    from fleetwise.lab.control import Lab

    started = Lab(state_dir).start(name)
    process = started.process
    say(f"started {process.name} (pid {process.pid}); {ARRIVALS[started.arrival]}")


@lab_app.command("down")
def down(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Stop every process of the lab (SIGTERM, SIGKILL after a grace period); keep its state."""
    from fleetwise.lab.control import Lab

    lab = Lab(state_dir)
    stopped = lab.down()
    if stopped:
        say(f"stopped {', '.join(stopped)}; the state stays in {lab.paths.root}")
    else:
        say(f"nothing of the lab in {lab.paths.root} was running")
