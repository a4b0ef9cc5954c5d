"""``fleetwise demo``: the command line of the live demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["demo"]


def demo(
    duration: Annotated[
        float, typer.Option(help="Real seconds to run before stopping (Ctrl-C stops earlier).")
    ] = 60.0,
    hosts: Annotated[int, typer.Option(help="Simulated hosts, one agent process each (1-50).")] = 6,
    vms: Annotated[int, typer.Option(help="VMs, each replaying one PlanetLab trace.")] = 20,
    day: Annotated[str, typer.Option(help="Bundled PlanetLab day, e.g. 20110303.")] = "20110303",
    speedup: Annotated[
        float, typer.Option(help="Simulated seconds per real second (1-1000).")
    ] = 300.0,
    ram_mb: Annotated[int, typer.Option("--ram-mb", help="RAM per host (MB).")] = 8192,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the lab's configs, logs and databases here (default: a temporary dir); "
            "a stopped lab there is started again."
        ),
    ] = None,
) -> None:
    """Run a lab of a simulated fleet and watch it consolidate.

    A controller and one agent per host run as in ``fleetwise lab up``; the URL and
    admin token are printed to inspect it with the admin commands."""
    from rich.console import Console

    from fleetwise.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        duration_s=duration,
        hosts=hosts,
        vms=vms,
        day=day,
        speedup=speedup,
        ram_mb=ram_mb,
        state_dir=state_dir,
    )
    outcome = run_demo(options, Console(highlight=False))
    if not outcome.clean:
        raise typer.Exit(1)
