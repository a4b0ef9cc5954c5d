"""OTF overload detector: counting, the decision rule and its parameters."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.types import DetectorContext, HostDetector
from fleetwise.errors import InputError, ParameterError

NO_MIGRATION_TIME = DetectorContext(time_step_s=300.0, migration_time_s=0.0)


def build(**params: object) -> HostDetector:
    return OVERLOAD.build("otf", params)


def run(
    detector: HostDetector,
    history: list[float],
    state: dict[str, int],
    ctx: DetectorContext = NO_MIGRATION_TIME,
) -> tuple[bool, dict[str, int]]:
    decision, new_state = detector(np.asarray(history, dtype=np.float64), ctx, state)
    return decision, dict(new_state)


def test_counts_every_call_and_overloaded_calls_at_or_above_threshold() -> None:
    detector = build(otf=1.0, threshold=0.8, limit=1)
    state: dict[str, int] = {}
    for value in [0.5, 0.8, 0.79, 0.95]:
        _, state = run(detector, [value], state)
    assert state == {"total": 4, "overloaded": 2}


def test_decision_follows_the_fraction_including_the_current_step() -> None:
    detector = build(otf=0.5, threshold=0.8, limit=1)
    # 1 of 3 earlier steps overloaded, current overloaded: 2/4 = 0.5 >= 0.5.
    assert run(detector, [0.9], {"total": 3, "overloaded": 1}) == (
        True,
        {"total": 4, "overloaded": 2},
    )
    # 1 of 4 earlier: 2/5 = 0.4 < 0.5.
    assert run(detector, [0.9], {"total": 4, "overloaded": 1})[0] is False


def test_migration_time_counts_as_overloaded_time() -> None:
    detector = build(otf=0.5, threshold=0.8, limit=1)
    state = {"total": 4, "overloaded": 1}  # after this step: 2 of 5
    one_step = DetectorContext(time_step_s=300.0, migration_time_s=300.0)
    half_step = DetectorContext(time_step_s=300.0, migration_time_s=150.0)
    assert run(detector, [0.9], state, one_step)[0] is True  # (1 + 2) / (1 + 5) = 0.5
    assert run(detector, [0.9], state, half_step)[0] is False  # 2.5 / 5.5 ≈ 0.45


def test_no_migration_while_not_overloaded_even_above_the_limit() -> None:
    detector = build(otf=0.1, threshold=0.8, limit=1)
    decision, state = run(detector, [0.9, 0.7], {"total": 10, "overloaded": 10})
    assert decision is False
    assert state == {"total": 11, "overloaded": 10}


def test_too_short_history_never_migrates_but_still_counts() -> None:
    detector = build(otf=0.1, threshold=0.8, limit=3)
    assert run(detector, [0.9, 0.9], {}) == (False, {"total": 1, "overloaded": 1})
    assert run(detector, [0.9, 0.9, 0.9], {}) == (True, {"total": 1, "overloaded": 1})


def test_sequence_of_calls_with_state_passed_back() -> None:
    detector = build(otf=0.4, threshold=0.8, limit=1)
    decisions = []
    state: dict[str, int] = {}
    for value in [0.5, 0.5, 0.9, 0.5, 0.9, 0.9]:
        decision, state = run(detector, [value], state)
        decisions.append(decision)
    # ratios at overloaded steps: 1/3, 2/5, 3/6
    assert decisions == [False, False, False, False, True, True]


def test_empty_history_changes_nothing() -> None:
    detector = build()
    assert run(detector, [], {"total": 5, "overloaded": 2}) == (
        False,
        {"total": 5, "overloaded": 2},
    )


def test_input_state_is_not_mutated() -> None:
    detector = build(otf=0.1, threshold=0.8, limit=1)
    state = {"total": 3, "overloaded": 1}
    _, new_state = detector(np.array([0.9]), NO_MIGRATION_TIME, state)
    assert state == {"total": 3, "overloaded": 1}
    assert new_state is not state


@pytest.mark.parametrize(
    "state",
    [
        {"total": -1},
        {"total": 1.5},
        {"overloaded": "2"},
        {"total": True},
        {"total": 1, "overloaded": 2},
    ],
)
def test_bad_state_is_rejected(state: dict[str, object]) -> None:
    with pytest.raises(InputError, match="otf state"):
        build()(np.array([0.9]), NO_MIGRATION_TIME, state)


@pytest.mark.parametrize(
    "ctx",
    [DetectorContext(time_step_s=0.0), DetectorContext(migration_time_s=-1.0)],
)
def test_bad_context_is_rejected(ctx: DetectorContext) -> None:
    with pytest.raises(InputError):
        build()(np.array([0.9]), ctx, {})


@pytest.mark.parametrize(
    "params",
    [{"otf": 0.0}, {"otf": 1.2}, {"threshold": 0.0}, {"threshold": 1.1}, {"limit": 0}, {"n": 2}],
)
def test_bad_parameters_raise_parameter_error(params: dict[str, object]) -> None:
    (key,) = params
    with pytest.raises(ParameterError, match=f"invalid parameters for 'otf': {key}:"):
        OVERLOAD.build("otf", params)


@given(
    history=st.lists(st.floats(0.0, 1.5), max_size=20),
    total=st.integers(0, 1000),
    overloaded_share=st.floats(0.0, 1.0),
    tm=st.floats(0.0, 3000.0),
)
def test_state_is_json_and_counters_only_grow(
    history: list[float], total: int, overloaded_share: float, tm: float
) -> None:
    state = {"total": total, "overloaded": int(total * overloaded_share)}
    before = copy.deepcopy(state)
    ctx = DetectorContext(time_step_s=300.0, migration_time_s=tm)
    decision, new_state = build(otf=0.3, threshold=0.8, limit=5)(
        np.asarray(history, dtype=np.float64), ctx, state
    )
    assert state == before
    assert json.loads(json.dumps(new_state)) == new_state
    grew = 1 if history else 0
    assert new_state["total"] == before["total"] + grew
    assert before["overloaded"] <= new_state["overloaded"] <= before["overloaded"] + grew
    assert isinstance(decision, bool)
