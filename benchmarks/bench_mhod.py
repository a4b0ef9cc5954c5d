"""Time one MHOD decision on a 100-value history (ms per call).

Run: ``.venv/bin/python benchmarks/bench_mhod.py``. Histories are seeded random
walks that end in the overload state, so every call estimates the transition matrix
and runs the full policy search (the slowest path).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.types import DetectorContext, FloatArray

__all__ = ["main"]

CONFIGS: dict[str, Mapping[str, Any]] = {
    "defaults (2 states, step 0.1)": {},
    "Neat defaults (step 0.5)": {"bruteforce_step": 0.5},
    "3 states [0.8, 0.9]": {"state_config": [0.8, 0.9]},
    "4 states [0.7, 0.8, 0.9]": {"state_config": [0.7, 0.8, 0.9]},
}


def overloaded_histories(count: int, length: int, seed: int = 7) -> list[FloatArray]:
    """Random walks in [0, 1] whose last value is at or above 0.95."""
    rng = np.random.default_rng(seed)
    walks = np.clip(0.8 + np.cumsum(rng.normal(0.0, 0.05, (count, length)), axis=1), 0.0, 1.0)
    walks[:, -1] = 0.97
    return list(walks)


def time_config(params: Mapping[str, Any], histories: list[FloatArray], repeat: int) -> float:
    """Best-of-``repeat`` mean milliseconds per decision over ``histories``."""
    detector = OVERLOAD.build("mhod", params)
    ctx = DetectorContext(time_step_s=300.0, migration_time_s=30.0)
    state = {"time_in_states": 200, "time_in_state_n": 20}
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for history in histories:
            detector(history, ctx, state)
        best = min(best, (time.perf_counter() - start) / len(histories))
    return best * 1e3


def main() -> None:
    histories = overloaded_histories(count=200, length=100)
    print("history of 100 values:")
    for label, params in CONFIGS.items():
        print(f"  {label:32s} {time_config(params, histories, repeat=5):7.3f} ms per decision")
    longer = overloaded_histories(count=200, length=300)
    print("history of 300 values:")
    print(f"  {'defaults':32s} {time_config({}, longer, repeat=5):7.3f} ms per decision")


if __name__ == "__main__":
    main()
