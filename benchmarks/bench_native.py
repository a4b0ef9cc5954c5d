"""Native model speed: seconds per simulated day on the bundled scenario, in process and
as a whole ``fleetwise simulate`` process.

    .venv/bin/python benchmarks/bench_native.py
    .venv/bin/python benchmarks/bench_native.py --day 20110420 --repeat 5

Target: a native day (1052 VMs, the bundled 48-host rack, 288 intervals, THR-MMT-0.8)
in under 2 s of one core, measured after the process's first run (which loads the
compiled kernels).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from fleetwise.sim.native.runner import simulate_native
from fleetwise.traces import load_bundled_day

POLICIES = (
    "dvfs",
    "thr-mmt-0.8",
    "thr-mc-0.8",
    "mad-mmt-2.5",
    "iqr-mmt-1.5",
    "lr-mmt-1.2",
    "lrr-mmt-1.2",
    "otf-mmt-0.2",
    "mhod-mmt-0.2",
)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _whole_process(day: str, policy: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``fleetwise simulate --model native`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "fleetwise", "simulate", "--model", "native", "--day", day,
         "--policy", policy],
        check=True, capture_output=True, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", default="20110303")
    parser.add_argument("--repeat", type=int, default=3, help="runs per policy (median)")
    args = parser.parse_args()
    traces = load_bundled_day(args.day)
    started = time.perf_counter()
    simulate_native(traces, "thr-mmt-0.8")
    print(f"first run in this process: {time.perf_counter() - started:.2f} s (loads kernels)")
    print(f"one native day ({args.day}: {traces.vm_count} VMs, bundled rack of 48 hosts)")
    print(f"{'policy':<14}{'wall s':>9}{'CPU s':>9}{'migrations':>12}{'energy kWh':>12}")
    for policy in POLICIES:
        walls, cpus = [], []
        for _ in range(args.repeat):
            cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
            result = simulate_native(traces, policy)
            walls.append(time.perf_counter() - wall_before)
            cpus.append(_cpu_seconds() - cpu_before)
        print(
            f"{policy:<14}{statistics.median(walls):>9.2f}{statistics.median(cpus):>9.2f}"
            f"{result.migrations:>12}{result.energy_kwh:>12.1f}"
        )
    wall, cpu = _whole_process(args.day, "thr-mmt-0.8")
    print(f"whole process, thr-mmt-0.8: {wall:.2f} s wall, {cpu:.2f} s CPU (imports included)")


if __name__ == "__main__":
    main()
