"""Exact cumulative CPU time of a trace-driven VM."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.errors import ParameterError

TRACE = CpuTrace.of([0.5, 1.0, 0.0], sample_s=300.0)


def test_demand_is_constant_within_a_sample_and_repeats() -> None:
    assert TRACE.demand(0) == 0.5
    assert TRACE.demand(299.9) == 0.5
    assert TRACE.demand(300) == 1.0
    assert TRACE.demand(600) == 0.0
    assert TRACE.demand(900) == 0.5  # second cycle


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.0, 0.0),
        (150.0, 150.0),  # 0.5 × 2 vCPUs = 1 core for 150 s
        (450.0, 300.0 + 300.0),  # then 2 cores for 150 s
        (900.0, 900.0),  # a full cycle: 300 + 600 + 0
        (1200.0, 1200.0),  # plus one more first sample
    ],
)
def test_busy_seconds_integrates_the_trace(t: float, expected: float) -> None:
    assert TRACE.busy_seconds(t, vcpus=2) == pytest.approx(expected)


def test_cap_limits_each_sample() -> None:
    # Rates 1, 2, 0 cores capped at 1.5 → 1, 1.5, 0 per sample.
    assert TRACE.busy_seconds(900.0, vcpus=2, cap_cores=1.5) == pytest.approx(750.0)


@pytest.mark.parametrize("fractions", [[], [1.2], [-0.1], [float("nan")]])
def test_invalid_traces_are_rejected(fractions: list[float]) -> None:
    with pytest.raises(ParameterError):
        CpuTrace.of(fractions)


def test_negative_time_is_rejected() -> None:
    with pytest.raises(ParameterError):
        TRACE.busy_seconds(-1.0, vcpus=1)


@given(
    fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
    a=st.floats(0.0, 1e6),
    b=st.floats(0.0, 1e6),
    vcpus=st.integers(1, 8),
)
def test_busy_time_is_monotone_and_bounded_by_vcpus(
    fractions: list[float], a: float, b: float, vcpus: int
) -> None:
    trace = CpuTrace.of(fractions, sample_s=300.0)
    lo, hi = sorted((a, b))
    used = trace.busy_seconds(hi, vcpus) - trace.busy_seconds(lo, vcpus)
    assert used >= -1e-6
    assert used <= vcpus * (hi - lo) * (1 + 1e-9) + 1e-6
