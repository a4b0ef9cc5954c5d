"""``fleetwise simulate`` without the CLI framework: it starts in a fraction of the time.

A simulated day takes well under a second, so the command's own start-up counts:
:func:`parse` reads the usual ``--option value`` forms directly, and the results are
printed as plain text. Anything it does not recognise (``--help``, an unknown or
malformed option) is left to the full command line, which explains it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fleetwise.errors import ParameterError
from fleetwise.sim.results import SimulationResult

__all__ = ["PUBLISHED_GAP", "SimulateOptions", "parse", "result_rows", "run"]


@dataclass(frozen=True)
class SimulateOptions:
    """The options of ``fleetwise simulate`` (defaults as documented there)."""

    day: str = "20110303"
    policy: str | None = None  # the model's default
    model: str = "cloudsim"
    traces: Path | None = None
    seed: int = 0
    profile: str = "cs303"
    json_out: Path | None = None
    plot: Path | None = None
    scenario: Path | None = None


_FIELDS = {
    "--day": "day",
    "--policy": "policy",
    "--model": "model",
    "--traces": "traces",
    "--seed": "seed",
    "--profile": "profile",
    "--json": "json_out",
    "--plot": "plot",
    "--scenario": "scenario",
}


def parse(args: list[str]) -> SimulateOptions | None:
    """Options from ``args`` (after ``simulate``), or None to leave them to the full CLI."""
    values: dict[str, object] = {}
    i = 0
    while i < len(args):
        name, sep, value = args[i].partition("=")
        if name not in _FIELDS:
            return None
        if not sep:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        i += 1
        field = _FIELDS[name]
        if field == "seed":
            try:
                values[field] = int(value)
            except ValueError:
                return None
        elif field in ("traces", "json_out", "plot", "scenario"):
            values[field] = Path(value)
        else:
            values[field] = value
    return SimulateOptions(**values)  # type: ignore[arg-type]


def result_rows(result: SimulationResult) -> list[tuple[str, str, str]]:
    """(metric, value, published median) rows of a run's summary."""
    from fleetwise.sim.published import TABLE_V

    paper = TABLE_V.get(result.policy) if result.model == "cloudsim" else None
    rows = [
        ("energy", f"{result.energy_kwh:.2f} kWh", paper and f"{paper.energy_kwh:.2f} kWh"),
        ("VM migrations", f"{result.migrations:,}", paper and f"{paper.migrations:,.0f}"),
        ("SLATAH", f"{result.slatah:.2%}", paper and f"{paper.slatah:.2%}"),
        ("PDM", f"{result.pdm:.3%}", paper and f"{paper.pdm:.3%}"),
        ("SLAV", f"{result.slav:.3e}", paper and f"{paper.slav:.3e}"),
        ("ESV", f"{result.esv:.3e}", paper and f"{paper.esv:.3e}"),
        ("overall SLA violation", f"{result.sla_overall:.3%}", None),
        ("host shutdowns", f"{result.host_shutdowns:,}", None),
        ("VMs / hosts", f"{result.vms} / {result.hosts}", None),
        ("wall time", f"{result.wall_seconds:.2f} s", None),
    ]
    return [(name, value, ref or "") for name, value, ref in rows]


def _print_table(result: SimulationResult) -> None:
    rows = [("metric", "value", "published median"), *result_rows(result)]
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    print(f"{result.policy} · {result.day} · {result.model} model")
    for name, value, ref in rows:
        print(f"  {name:<{widths[0]}}  {value:>{widths[1]}}  {ref:>{widths[2]}}".rstrip())
    if any(ref for _, _, ref in rows[1:]):
        print(f"  {PUBLISHED_GAP}")


#: Why the CloudSim model's figures are not the published ones, in one line.
PUBLISHED_GAP = (
    "published: the paper's medians; CloudSim 3.0.3, matched here, uses about twice the "
    "energy (see docs/simulation.md)"
)


def _check_writable(path: Path, what: str) -> None:
    """Fail before simulating if ``path`` cannot be written (a missing folder, say)."""
    folder = path.parent
    if not folder.is_dir():
        raise ParameterError(f"{what} {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise ParameterError(f"{what} {path} is a folder, not a file")
    if not os.access(folder, os.W_OK):
        raise ParameterError(f"{what} {path}: the folder {folder} is not writable")


def run(options: SimulateOptions) -> None:
    """Simulate, print the results, and write the JSON and plot if asked."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS here: skip its threads
    from fleetwise.sim.policies import parse_policy
    from fleetwise.traces.loader import load_traces

    if options.policy is not None:
        parse_policy(options.policy)  # fail fast, before any output
    if options.scenario is not None:
        from fleetwise.sim.native.scenario import load_scenario

        load_scenario(options.scenario)
    for path, what in ((options.json_out, "--json"), (options.plot, "--plot")):
        if path is not None:
            _check_writable(path, what)
    trace_set = load_traces(day=None if options.traces else options.day, folder=options.traces)
    compiling = False
    if options.model == "cloudsim":
        from fleetwise.sim.cloudsim import kernels_cached

        compiling = not kernels_cached()
        if compiling:
            print("compiling the simulator's kernels (once per installation, about a minute)…",
                  file=sys.stderr)  # fmt: skip
    from fleetwise.sim.runner import simulate

    result = simulate(
        trace_set,
        options.policy,
        options.model,
        seed=options.seed,
        profile=options.profile,
        scenario=options.scenario,
    )
    _print_table(result)
    if compiling:
        print("(the wall time includes compiling the kernels; later runs skip that)")
    if options.json_out is not None:
        result.to_json(options.json_out)
        print(f"results written to {options.json_out}")
    if options.plot is not None:
        from fleetwise.sim.plots import plot_day

        plot_day(result, options.plot)
        print(f"plot written to {options.plot}")
