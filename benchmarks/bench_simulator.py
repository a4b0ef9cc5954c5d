"""Simulator speed: seconds per simulated day for every Table V policy, and the sweep.

    .venv/bin/python benchmarks/bench_simulator.py            # one day per policy + 10-day sweep
    .venv/bin/python benchmarks/bench_simulator.py --no-sweep # one day per policy only

Targets: under 1 s per simulated day (1052 VMs, 800 hosts, 288 intervals) for every
policy on one core; the 80-run Table V sweep in under 2 minutes with 2 processes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fleetwise.sim.policies import TABLE_V_POLICIES
from fleetwise.sim.runner import simulate
from fleetwise.sim.sweep import run_sweep
from fleetwise.traces import BUNDLED_DAYS, load_bundled_day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", default="20110303")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    traces = load_bundled_day(args.day)
    started = time.perf_counter()
    simulate(traces, "thr-mmt-0.8", "cloudsim")
    print(
        f"start-up: first run in a process {time.perf_counter() - started:.2f} s "
        "(loads the compiled kernels; compiles them once per machine)"
    )
    print(f"one simulated day ({args.day}: {traces.vm_count} VMs, 800 hosts, 288 intervals)")
    print(f"{'policy':<14}{'seconds/day':>12}{'migrations':>12}{'energy kWh':>12}")
    for policy in TABLE_V_POLICIES:
        started = time.perf_counter()
        result = simulate(traces, policy, "cloudsim")
        seconds = time.perf_counter() - started
        print(f"{policy:<14}{seconds:>12.2f}{result.migrations:>12}{result.energy_kwh:>12.2f}")
    if args.no_sweep:
        return
    runs = len(TABLE_V_POLICIES) * len(BUNDLED_DAYS)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_sweep(list(BUNDLED_DAYS), list(TABLE_V_POLICIES), Path(out), jobs=args.jobs)
        total = time.perf_counter() - started
    print(
        f"Table V sweep: {runs} runs with {args.jobs} processes in {total:.1f} s "
        f"({total / runs:.2f} s per simulated day of wall time)"
    )


if __name__ == "__main__":
    main()
