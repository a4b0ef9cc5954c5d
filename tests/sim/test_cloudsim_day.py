"""The whole day in one compiled call equals the step-by-step engine to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwise.core.selection.simple import selection_key
from fleetwise.core.types import VmObservation
from fleetwise.sim.cloudsim.codes import SELECTION_KINDS, rs_seed, splitmix_index
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.engine import run_cloudsim
from fleetwise.sim.cloudsim.outcome import RunOutcome
from fleetwise.sim.cloudsim.run import simulate_day
from fleetwise.sim.cloudsim.selection import seeded_index, vm_key
from fleetwise.traces.loader import TraceSet, load_bundled_day


def _same(a: RunOutcome, b: RunOutcome) -> None:
    assert (a.energy_ws, a.migrations, a.migration_time_sum, a.removed_vms) == (
        b.energy_ws, b.migrations, b.migration_time_sum, b.removed_vms,
    )  # fmt: skip
    for x, y in [*zip(a.metrics, b.metrics, strict=True), (a.power_w, b.power_w)]:
        assert np.array_equal(x, y)
    assert np.array_equal(a.migrations_per_tick, b.migrations_per_tick)


def _walks(seed: int, vms: int = 60, samples: int = 40) -> TraceSet:
    rng = np.random.default_rng(seed)
    start = rng.integers(5, 95, size=(vms, 1))
    steps = rng.integers(-20, 21, size=(vms, samples - 1))
    cpu = np.clip(np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1), 0, 100)
    return TraceSet("walks", tuple(f"vm{i:03d}" for i in range(vms)), cpu.astype(np.uint8))


@pytest.mark.parametrize("selection", list(SELECTION_KINDS))
@pytest.mark.parametrize(
    ("kind", "param", "weighting"),
    [("thr", 0.7, "none"), ("mad", 2.5, "none"), ("iqr", 1.5, "none"), ("lrr", 1.2, "tricube")],
)
def test_compiled_day_equals_the_engine(
    selection: str, kind: str, param: float, weighting: str
) -> None:
    traces = _walks(7)
    detector = CloudSimDetector(kind, param, weighting)  # type: ignore[arg-type]
    engine = run_cloudsim(traces, "migrate", detector, selection, seed=5, hosts=40)
    assert engine.migrations > 20
    _same(simulate_day(traces, "migrate", (kind, param, weighting), selection, 5, 40), engine)


@pytest.mark.parametrize("mode", ["npa", "dvfs"])
def test_compiled_baselines_equal_the_engine(mode: str) -> None:
    traces = load_bundled_day("20110306")
    _same(simulate_day(traces, mode), run_cloudsim(traces, mode))  # type: ignore[arg-type]


histories = st.lists(st.floats(0.0, 1.5, allow_subnormal=False), min_size=0, max_size=30)


@settings(max_examples=300)
@given(
    selection=st.sampled_from(["mmt", "mu", "mmt-max-cpu"]),
    history=histories,
    mips=st.sampled_from([500.0, 1000.0, 2000.0, 2500.0]),
    ram=st.sampled_from([613.0, 870.0, 1740.0]),
)
def test_compiled_keys_are_the_core_keys_to_the_last_bit(
    selection: str, history: list[float], mips: float, ram: float
) -> None:
    newest_first = np.zeros((1, 30))
    newest_first[0, : len(history)] = history
    oldest_first = np.asarray(history[::-1], dtype=np.float64) * mips
    key = selection_key(selection)
    assert key is not None
    expected = key(VmObservation("v", ram, mips, oldest_first))
    kind = SELECTION_KINDS[selection]
    got = vm_key(kind, 0, np.array([ram]), np.array([mips]), newest_first, len(history))
    assert got == expected


@settings(max_examples=300)
@given(
    seed=st.integers(-(2**40), 2**40),
    tick=st.integers(0, 300),
    host=st.integers(0, 2000),
    pick=st.integers(0, 40),
    n=st.integers(1, 40),
)
def test_compiled_random_choice_is_the_plain_one(
    seed: int, tick: int, host: int, pick: int, n: int
) -> None:
    expected = splitmix_index(rs_seed(seed, tick, host, pick), n)
    assert seeded_index(seed, tick, host, pick, n) == expected
    assert 0 <= expected < n
