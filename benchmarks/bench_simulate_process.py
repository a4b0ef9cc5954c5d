"""``fleetwise simulate`` timed as a whole process, per policy (CPU and wall, medians).

    .venv/bin/python benchmarks/bench_simulate_process.py [--day 20110303] [--runs 3]

Every Table V policy and one policy per further selection (MU, MC, RS) is run as a
separate ``fleetwise simulate`` process, after one warm-up run that builds the
compiled kernels if needed. CPU is user + system time of the process (and its
children); wall is elapsed time. Compare with the CloudSim 3.0.3 figures in
docs/simulation.md ("Speed").
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from fleetwise.sim.policies import TABLE_V_POLICIES

SELECTIONS = ("thr-mu-0.8", "thr-mc-0.8", "thr-rs-0.8")


def _timed(command: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", default="20110303")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    fleetwise = os.path.join(os.path.dirname(sys.executable), "fleetwise")
    print(f"fleetwise simulate --day {args.day}: medians of {args.runs} processes")
    print(f"{'policy':<14}{'CPU s':>8}{'wall s':>8}")
    for policy in (*TABLE_V_POLICIES, *SELECTIONS):
        command = [fleetwise, "simulate", "--day", args.day, "--policy", policy]
        _timed(command)  # warm-up: builds the kernels once per installation
        samples = [_timed(command) for _ in range(args.runs)]
        cpu = statistics.median(s[0] for s in samples)
        wall = statistics.median(s[1] for s in samples)
        print(f"{policy:<14}{cpu:>8.3f}{wall:>8.3f}")


if __name__ == "__main__":
    main()
