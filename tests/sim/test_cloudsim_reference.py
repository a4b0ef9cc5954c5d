"""The compiled consolidation step chooses what the plain-Python reference chooses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.engine import CloudSimRun
from fleetwise.sim.cloudsim.optimize import Optimizer
from fleetwise.traces.loader import TraceSet
from tests.helpers.cloudsim_reference import ReferenceStep


class BothSteps:
    """Runs the compiled and the reference step on the same state and compares them."""

    def __init__(self, compiled: Optimizer, reference: ReferenceStep) -> None:
        self.compiled = compiled
        self.reference = reference
        self.ticks = 0
        self.moves = 0

    @property
    def initial_limit(self) -> float:
        return self.compiled.initial_limit

    def optimize(self, tick: int) -> list[tuple[int, int]]:
        expected = self.reference.optimize(tick)
        chosen = self.compiled.optimize(tick)
        assert chosen == expected, f"tick {tick}: compiled {chosen} != reference {expected}"
        self.ticks += 1
        self.moves += len(chosen)
        return chosen


def _walks(seed: int, vms: int, samples: int) -> TraceSet:
    """Random-walk utilisation in percent: hosts drift into and out of overload."""
    rng = np.random.default_rng(seed)
    start = rng.integers(5, 95, size=(vms, 1))
    steps = rng.integers(-25, 26, size=(vms, samples - 1))
    cpu = np.clip(np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1), 1, 100)
    return TraceSet("walks", tuple(f"vm{i:03d}" for i in range(vms)), cpu.astype(np.uint8))


def _compare(
    traces: TraceSet, detector: CloudSimDetector, selection: str, hosts: int
) -> BothSteps | None:
    try:
        run = CloudSimRun(traces, "migrate", detector, selection, 3, hosts)
    except InputError:
        return None
    assert run.optimizer is not None
    both = BothSteps(run.optimizer, ReferenceStep(run.state, detector, selection, 3))
    run.optimizer = both  # type: ignore[assignment]
    try:
        run.run()
    except InputError:
        return None  # too many VMs for the hosts at start-up
    return both


POLICIES = [
    CloudSimDetector("thr", 0.8),
    CloudSimDetector("thr", 0.6),
    CloudSimDetector("mad", 2.5),
    CloudSimDetector("iqr", 1.5),
    CloudSimDetector("lr", 1.2),
    CloudSimDetector("lrr", 1.2, "tricube"),
]


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    vms=st.integers(4, 30),
    hosts=st.integers(3, 12),
    detector=st.sampled_from(POLICIES),
    selection=st.sampled_from(["mmt", "mu", "rs", "mc", "mmt-max-cpu"]),
)
def test_random_fleets_take_the_reference_decisions(
    seed: int, vms: int, hosts: int, detector: CloudSimDetector, selection: str
) -> None:
    _compare(_walks(seed, vms, 20), detector, selection, hosts)


@pytest.mark.parametrize("detector", POLICIES, ids=lambda d: f"{d.kind}-{d.param}")
def test_a_busy_fleet_takes_the_reference_decisions_at_every_tick(
    detector: CloudSimDetector,
) -> None:
    both = _compare(_walks(11, 60, 30), detector, "mmt", 40)
    assert both is not None
    assert both.ticks == 29  # every tick of the 30 samples (300.1 s … 8700.1 s)
    assert both.moves > 50, "the fleet should keep the step busy"
