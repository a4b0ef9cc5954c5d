"""One local-manager decision per host: MHOD overload detection, history of 100 samples.

    .venv/bin/python benchmarks/bench_local_manager.py

Target: under 5 ms per decision. Times the whole ``LocalManager.decide`` (history
assembly, underload, MHOD, VM selection) for hosts of 4 to 16 VMs whose load ends in
the overload state, so MHOD runs its full estimation and policy search.
"""

from __future__ import annotations

import time

import numpy as np

from fleetwise.core.local_manager import (
    AlgorithmChoice,
    HostObservation,
    LocalManager,
    LocalManagerConfig,
)
from fleetwise.core.types import VmObservation

HISTORY = 100
CAPACITY_MHZ = 8 * 2_600.0


def _host(vms: int, rng: np.random.Generator) -> HostObservation:
    share = CAPACITY_MHZ / vms
    observations = []
    for i in range(vms):
        walk = np.clip(0.6 + np.cumsum(rng.normal(0, 0.04, HISTORY)), 0.05, 1.0)
        walk[-3:] = 1.0  # end overloaded: the full MHOD path
        observations.append(VmObservation(f"vm{i}", 1024.0 + 512 * (i % 3), share, walk * share))
    return HostObservation("host", CAPACITY_MHZ, tuple(observations))


def main() -> None:
    config = LocalManagerConfig(
        underload=AlgorithmChoice(name="last-n-average", params={"threshold": 0.3, "n": 2}),
        overload=AlgorithmChoice(name="mhod", params={"otf": 0.1}),
        selection=AlgorithmChoice(name="mmt-max-cpu"),
    )
    manager = LocalManager(config)
    rng = np.random.default_rng(1)
    print(f"LocalManager.decide with MHOD (otf 0.1), history {HISTORY}")
    for vms in (4, 8, 16):
        hosts = [_host(vms, rng) for _ in range(50)]
        started = time.perf_counter()
        reasons: dict[str, int] = {}
        for obs in hosts:
            decision, _ = manager.decide(obs, {})
            reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
        per_call = (time.perf_counter() - started) / len(hosts) * 1e3
        print(f"{vms:>3} VMs per host: {per_call:6.2f} ms per decision   {reasons}")


if __name__ == "__main__":
    main()
