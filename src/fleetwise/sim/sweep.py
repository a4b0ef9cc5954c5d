"""Many simulations in parallel processes, summarised as medians over days."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from fleetwise.errors import UnknownNameError
from fleetwise.sim.policies import CLOUDSIM_DETECTORS, NATIVE_DETECTORS, parse_policy
from fleetwise.sim.published import TABLE_V
from fleetwise.sim.results import SimulationResult
from fleetwise.sim.runner import simulate
from fleetwise.traces.loader import BUNDLED_DAYS, load_bundled_day

__all__ = ["MEDIAN_FIELDS", "SweepJob", "medians_by_policy", "parse_days", "run_sweep"]

MEDIAN_FIELDS = (
    "esv",
    "energy_kwh",
    "slav",
    "slatah",
    "pdm",
    "migrations",
    "host_shutdowns",
    "sla_overall",
    "aotf",
    "aitf",
    "wall_seconds",
)


@dataclass(frozen=True)
class SweepJob:
    day: str
    policy: str
    model: str
    seed: int
    profile: str
    scenario: Path | None = None


def parse_days(text: str) -> list[str]:
    """``all`` or a comma-separated list of bundled day names."""
    if text.strip() == "all":
        return list(BUNDLED_DAYS)
    days = [d.strip() for d in text.split(",") if d.strip()]
    for d in days:
        if d not in BUNDLED_DAYS:
            raise UnknownNameError(f"unknown day {d!r}; bundled days: {', '.join(BUNDLED_DAYS)}")
    if not days:
        raise UnknownNameError("no days given")
    return days


def _run(job: SweepJob) -> SimulationResult:
    traces = load_bundled_day(job.day)
    return simulate(
        traces, job.policy, job.model, seed=job.seed, profile=job.profile, scenario=job.scenario
    )


def medians_by_policy(
    results: Sequence[SimulationResult],
) -> dict[str, dict[str, float]]:
    """Median of every field in :data:`MEDIAN_FIELDS` over the days, per policy."""
    grouped: dict[str, list[SimulationResult]] = {}
    for r in results:
        grouped.setdefault(r.policy, []).append(r)
    return {
        policy: {
            f: float(statistics.median(float(getattr(r, f)) for r in runs)) for f in MEDIAN_FIELDS
        }
        | {"days": float(len(runs))}
        for policy, runs in grouped.items()
    }


def _table_markdown(medians: dict[str, dict[str, float]]) -> str:
    head = (
        "| Policy | ESV (×10⁻³) | Energy (kWh) | SLAV (×10⁻⁵) | SLATAH | PDM | "
        "VM migr. (×10³) | days |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for policy, m in medians.items():
        rows.append(
            f"| {policy} | {m['esv'] * 1e3:.2f} | {m['energy_kwh']:.2f} | {m['slav'] * 1e5:.2f} | "
            f"{m['slatah'] * 100:.2f}% | {m['pdm'] * 100:.3f}% | {m['migrations'] / 1e3:.2f} | "
            f"{int(m['days'])} |"
        )
        paper = TABLE_V.get(policy)
        if paper is not None:
            rows.append(
                f"| *published* | {paper.esv * 1e3:.2f} | {paper.energy_kwh:.2f} | "
                f"{paper.slav * 1e5:.2f} | {paper.slatah * 100:.2f}% | {paper.pdm * 100:.3f}% | "
                f"{paper.migrations / 1e3:.2f} | 10 |"
            )
    return head + "\n".join(rows) + "\n"


def run_sweep(
    days: Sequence[str],
    policies: Sequence[str],
    out_dir: Path,
    model: str = "cloudsim",
    jobs: int = 1,
    seed: int = 0,
    profile: str = "cs303",
    on_done: Callable[[SimulationResult], None] | None = None,
    scenario: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Run every (day, policy), write per-run JSON, the medians table and a plot."""
    detectors = CLOUDSIM_DETECTORS if model == "cloudsim" else NATIVE_DETECTORS
    names = [parse_policy(p, detectors).name for p in policies]  # validate before starting
    if scenario is not None:
        from fleetwise.sim.native.scenario import load_scenario

        load_scenario(scenario)  # a bad file fails before any run starts
    work = [SweepJob(d, p, model, seed, profile, scenario) for p in names for d in days]
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    if model == "cloudsim":  # build the compiled day once, before the workers need it
        from fleetwise.sim.cloudsim.aot import day_kernel

        day_kernel()
    results: list[SimulationResult] = []
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures: list[Future[SimulationResult]] = [pool.submit(_run, job) for job in work]
        for fut in as_completed(futures):
            result = fut.result()
            result.to_json(runs_dir / f"{result.policy}_{result.day}.json", with_series=False)
            results.append(result)
            if on_done is not None:
                on_done(result)
    medians = medians_by_policy(results)
    (out_dir / "medians.json").write_text(json.dumps(medians, indent=2) + "\n", encoding="utf-8")
    (out_dir / "table.md").write_text(_table_markdown(medians), encoding="utf-8")
    with (out_dir / "medians.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["policy", *MEDIAN_FIELDS, "days"])
        for policy, m in medians.items():
            writer.writerow([policy, *(m[f] for f in MEDIAN_FIELDS), int(m["days"])])
    from fleetwise.sim.plots import plot_sweep

    plot_sweep(medians, out_dir / "sweep.png")
    return medians
