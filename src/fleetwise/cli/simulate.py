"""``fleetwise simulate`` and ``fleetwise sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleetwise.cli.quick import SimulateOptions, run
from fleetwise.sim.policies import TABLE_V_POLICIES

__all__ = ["simulate", "sweep"]

console = Console()
err_console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _announce_compilation(model: str) -> bool:
    """Say so if this run compiles the kernels first; whether it does."""
    from fleetwise.sim.cloudsim import kernels_cached

    if model == "cloudsim" and not kernels_cached():
        err_console.print(
            "compiling the simulator's kernels (once per installation, about a minute)…"
        )
        return True
    return False


def simulate(
    day: Annotated[str, typer.Option(help="Bundled PlanetLab day, e.g. 20110303.")] = "20110303",
    policy: Annotated[
        str | None,
        typer.Option(
            help="npa, dvfs or e.g. lr-mmt-1.2 (cloudsim default: lr-mmt-1.2; native "
            "default: the scenario's own configuration)."
        ),
    ] = None,
    model: Annotated[str, typer.Option(help="cloudsim or native.")] = "cloudsim",
    scenario: Annotated[
        Path | None,
        typer.Option(help="Native model: a scenario file (default: the bundled rack)."),
    ] = None,
    traces: Annotated[
        Path | None, typer.Option(help="Folder of trace files instead of a bundled day.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of random choices (RS).")] = 0,
    profile: Annotated[
        str, typer.Option(help="cs303 (CloudSim 3.0.3) or cs2012 (weighted LR of 2012).")
    ] = "cs303",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG plot of the day.")] = None,
) -> None:
    """Simulate one day of traces under one policy and print the results."""
    run(SimulateOptions(day, policy, model, traces, seed, profile, json_out, plot, scenario))


def sweep(
    days: Annotated[str, typer.Option(help="'all' or comma-separated bundled days.")] = "all",
    policies: Annotated[
        str, typer.Option(help="Comma-separated policies; 'table5' for the paper's Table V.")
    ] = "table5",
    model: Annotated[str, typer.Option(help="cloudsim or native.")] = "cloudsim",
    jobs: Annotated[int, typer.Option(min=1, help="Parallel processes.")] = 2,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("sweep-out"),
    seed: Annotated[int, typer.Option(help="Seed of random choices (RS).")] = 0,
    profile: Annotated[str, typer.Option(help="cs303 or cs2012.")] = "cs303",
    scenario: Annotated[
        Path | None,
        typer.Option(help="Native model: a scenario file (default: the bundled rack)."),
    ] = None,
) -> None:
    """Run policies × days in parallel and write medians in the layout of Table V."""
    from fleetwise.sim.sweep import parse_days, run_sweep

    day_list = parse_days(days)
    names = (
        list(TABLE_V_POLICIES)
        if policies.strip() == "table5"
        else [p.strip() for p in policies.split(",") if p.strip()]
    )
    _announce_compilation(model)
    with _progress() as bar:
        task = bar.add_task("simulations", total=len(day_list) * len(names))
        medians = run_sweep(
            day_list,
            names,
            out,
            model=model,
            jobs=jobs,
            seed=seed,
            profile=profile,
            on_done=lambda r: bar.advance(task),
            scenario=scenario,
        )
    table = Table(title=f"medians over {len(day_list)} day(s) · {model} model · {profile}")
    for col in ("policy", "ESV ×10⁻³", "energy kWh", "SLAV ×10⁻⁵", "SLATAH", "PDM", "migr."):
        table.add_column(col, justify="right")
    for policy, m in medians.items():
        table.add_row(
            policy,
            f"{m['esv'] * 1e3:.2f}",
            f"{m['energy_kwh']:.2f}",
            f"{m['slav'] * 1e5:.2f}",
            f"{m['slatah']:.2%}",
            f"{m['pdm']:.3%}",
            f"{m['migrations']:,.0f}",
        )
    console.print(table)
    console.print(f"table, medians and plot written to {out}/")
