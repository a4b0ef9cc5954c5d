"""MHOD: state mapping, window estimates, the expected-time formula and decisions."""

from __future__ import annotations

import copy
import json
from collections import deque
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.overload.mhod_estimation import estimate_transitions, utilisation_states
from fleetwise.core.overload.mhod_policy import best_policy, expected_steps, policy_grid
from fleetwise.core.types import DetectorContext, FloatArray, HostDetector
from fleetwise.errors import InputError, ParameterError

CTX = DetectorContext(time_step_s=300.0, migration_time_s=0.0)


def matrix(rows: list[list[float]]) -> FloatArray:
    return np.asarray(rows, dtype=np.float64)


def build(**params: object) -> HostDetector:
    return OVERLOAD.build("mhod", params)


# --- states -------------------------------------------------------------------------------


def test_one_threshold_splits_at_the_threshold_inclusive() -> None:
    states = utilisation_states(np.array([0.0, 0.79, 0.8, 1.0, 1.3]), [0.8])
    assert states.tolist() == [0, 0, 1, 1, 1]


def test_several_thresholds_count_the_thresholds_reached() -> None:
    values = np.array([0.2, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
    assert utilisation_states(values, [0.5, 0.8, 0.95]).tolist() == [0, 1, 1, 2, 2, 3, 3]


# --- multisize sliding window estimates ---------------------------------------------------


def test_window_estimates_on_a_hand_checked_sequence() -> None:
    # transitions out of 0 lead to 0,1,0,0,1,0; out of 1 to 0,1,0
    states = np.array([0, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    estimate = estimate_transitions(states, 2, [2, 4])
    assert estimate.requests.tolist() == [6, 3]
    # row 0, window 4: last four estimates of p01 are 1/4,1/4,2/4,1/4 (variance 1/64 <=
    # 3/64) and of p00 2/4,3/4,2/4,3/4 (variance 1/48 <= 3/64): window 4 wins.
    # row 1 has only 3 requests: window 4 is not full, window 2 (variance 0) is kept.
    assert estimate.window_sizes.tolist() == [[4, 4], [2, 2]]
    assert estimate.probabilities.tolist() == [[0.75, 0.25], [0.5, 0.5]]


def test_young_rows_divide_by_the_window_size() -> None:
    estimate = estimate_transitions(np.array([1, 1, 1, 1]), 2, [30, 40])
    assert estimate.probabilities.tolist() == [[0.0, 0.0], [0.0, 3 / 30]]
    assert estimate.window_sizes.tolist() == [[30, 30], [30, 30]]


def test_first_window_is_kept_when_its_variance_is_too_high() -> None:
    # out of 0: 0,0,1,1 → p01 estimates with window 2 end 1/2, 1: variance 1/8 > 0.
    states = np.array([0, 0, 0, 1, 0, 1])
    estimate = estimate_transitions(states, 2, [2, 3])
    assert estimate.window_sizes[0].tolist() == [2, 2]
    assert estimate.probabilities[0].tolist() == [0.0, 1.0]


def reference_estimate(
    states: list[int], n_states: int, sizes: list[int]
) -> tuple[list[list[float]], list[list[int]]]:
    """Request by request, with deques and exact fractions, as the estimator is defined."""
    requests: list[deque[int]] = [deque(maxlen=max(sizes)) for _ in range(n_states)]
    history = {
        (i, j, size): deque[Fraction](maxlen=size)
        for i in range(n_states)
        for j in range(n_states)
        for size in sizes
    }
    for previous, current in pairwise(states):
        requests[previous].append(current)
        for j in range(n_states):
            for size in sizes:
                window = list(requests[previous])[-size:]
                history[previous, j, size].append(Fraction(window.count(j), size))
    probabilities = [[0.0] * n_states for _ in range(n_states)]
    selected = [[sizes[0]] * n_states for _ in range(n_states)]
    for i in range(n_states):
        for j in range(n_states):
            for size in sizes:
                values = history[i, j, size]
                if len(values) < size:
                    break
                mean = sum(values, Fraction(0)) / size
                variance = sum(((x - mean) ** 2 for x in values), Fraction(0)) / (size - 1)
                latest = values[-1]
                if variance > latest * (1 - latest) / size:
                    break
                selected[i][j] = size
            chosen = history[i, j, selected[i][j]]
            probabilities[i][j] = float(chosen[-1]) if chosen else 0.0
    return probabilities, selected


@settings(max_examples=150, deadline=None)
@given(
    n_states=st.integers(2, 3),
    data=st.data(),
    sizes=st.lists(st.integers(2, 9), min_size=1, max_size=4, unique=True).map(sorted),
)
def test_vectorised_estimates_match_the_request_by_request_definition(
    n_states: int, data: st.DataObject, sizes: list[int]
) -> None:
    # Long runs in few states make full windows with small variances likely.
    states = data.draw(st.lists(st.integers(0, n_states - 1), min_size=1, max_size=60))
    estimate = estimate_transitions(np.asarray(states, dtype=np.int64), n_states, sizes)
    probabilities, selected = reference_estimate(states, n_states, sizes)
    assert estimate.window_sizes.tolist() == selected
    assert estimate.probabilities.tolist() == probabilities


# --- expected steps before migration ------------------------------------------------------


def closed_form_two_states(p: FloatArray, start: int, m: tuple[float, float]) -> list[float]:
    """``π (I − D P)^−1`` for 2 states written out with the 2×2 adjugate."""
    d0, d1 = 1.0 - m[0], 1.0 - m[1]
    (p00, p01), (p10, p11) = p
    det = (1 - d0 * p00) * (1 - d1 * p11) - d0 * d1 * p01 * p10
    if start == 0:
        return [(1 - d1 * p11) / det, d0 * p01 / det]
    return [d1 * p10 / det, (1 - d0 * p00) / det]


def test_expected_steps_solved_by_first_step_analysis() -> None:
    # From 1: each step there ends with prob. 1/2, so 2 steps in 1; a step in 1 leads to
    # 0 with prob. 0.5·0.4 = 0.2 and a stay in 0 lasts 1/0.2 = 5 steps: 2·0.2·5 = 2 in 0.
    # From 0: 5 steps in 0 first, then as from 1.
    p = matrix([[0.8, 0.2], [0.4, 0.6]])
    policy = np.array([[0.0, 0.5]])
    np.testing.assert_allclose(expected_steps(p, 1, policy), [[2.0, 2.0]])
    np.testing.assert_allclose(expected_steps(p, 0, policy), [[7.0, 2.0]])
    # Fair coin between states, migrate with prob. 1/2 each step: 2 steps in all, the
    # first one in the start state.
    coin = matrix([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(expected_steps(coin, 1, np.array([[0.5, 0.5]])), [[0.5, 1.5]])


@given(
    p00=st.floats(0.0, 1.0),
    p11=st.floats(0.0, 1.0),
    leak=st.floats(0.0, 0.3),
    start=st.integers(0, 1),
    m=st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0)),
)
def test_expected_steps_match_the_two_state_closed_form(
    p00: float, p11: float, leak: float, start: int, m: tuple[float, float]
) -> None:
    p = matrix([[p00, 1 - p00], [1 - p11, p11]]) * (1 - leak)
    got = expected_steps(p, start, np.array([m]))
    np.testing.assert_allclose(got[0], closed_form_two_states(p, start, m), rtol=1e-9)


def test_expected_steps_equal_the_neumann_series_for_three_states() -> None:
    p = matrix([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    policies = np.array([[0.1, 0.2, 0.3], [0.0, 0.0, 0.5], [1.0, 0.1, 0.05]])
    got = expected_steps(p, 2, policies)
    for row, m in zip(got, policies, strict=True):
        kept = np.diag(1 - m) @ p
        visits, term = np.zeros(3), np.eye(3)[2]
        for _ in range(5000):
            visits += term
            term = term @ kept
        np.testing.assert_allclose(row, visits, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    n_states=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
    row_scale=st.floats(0.5, 1.4),
)
def test_expected_steps_agree_with_lapack_and_the_spectral_radius(
    n_states: int, seed: int, row_scale: float
) -> None:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n_states), size=n_states) * row_scale
    policies = policy_grid(n_states, 0.25)
    got = expected_steps(p, n_states - 1, policies)
    for row, m in zip(got, policies, strict=True):
        kept = np.diag(1 - m) @ p
        radius = max(abs(np.linalg.eigvals(kept)))
        if radius < 1 - 1e-9:
            start = np.eye(n_states)[n_states - 1]
            want = np.linalg.solve((np.eye(n_states) - kept).T, start)
            np.testing.assert_allclose(row, want, rtol=1e-8, atol=1e-12)
        elif radius > 1 + 1e-9:
            assert np.isnan(row).all()


def test_unbounded_policies_are_nan_and_leaking_chains_are_finite() -> None:
    stochastic = matrix([[0.7, 0.3], [0.4, 0.6]])
    no_migration = np.array([[0.0, 0.0]])
    assert np.isnan(expected_steps(stochastic, 1, no_migration)).all()
    # A row summing to less than one leaks: the expectation is finite even with m = 0.
    leaking = matrix([[0.7, 0.2], [0.4, 0.6]])
    np.testing.assert_allclose(
        expected_steps(leaking, 1, no_migration)[0],
        closed_form_two_states(leaking, 1, (0.0, 0.0)),
    )
    # Rows above one (mixed window sizes) with m = 0 diverge as well.
    assert np.isnan(expected_steps(matrix([[0.9, 0.3], [0.2, 0.9]]), 1, no_migration)).all()


def test_policy_grid_enumerates_every_level_first_state_outermost() -> None:
    grid = policy_grid(2, 0.5)
    assert grid.tolist() == [
        [0.0, 0.0], [0.0, 0.5], [0.0, 1.0],
        [0.5, 0.0], [0.5, 0.5], [0.5, 1.0],
        [1.0, 0.0], [1.0, 0.5], [1.0, 1.0],
    ]  # fmt: skip
    np.testing.assert_allclose(sorted(set(policy_grid(1, 0.3)[:, 0])), [0.0, 0.3, 0.6, 0.9])
    assert policy_grid(3, 0.1).shape == (11**3, 3)


# --- the policy search --------------------------------------------------------------------

SYMMETRIC = matrix([[0.9, 0.1], [0.1, 0.9]])


def search(otf_limit: float, observed: int = 1, in_overload: int = 1) -> FloatArray | None:
    return best_policy(
        SYMMETRIC,
        1,
        migration_steps=0.0,
        observed_steps=observed,
        observed_overload_steps=in_overload,
        otf_limit=otf_limit,
        step=0.1,
    )


def test_symmetric_chain_never_gets_below_one_half() -> None:
    # From the overload state, L_0 <= L_1 for every policy, so (1 + L_1)/(1 + ΣL) > 1/2.
    assert search(0.5) is None


def test_best_policy_maximises_the_expected_time_under_the_limit() -> None:
    # m = (0, 0.1): L = (9, 10), fraction 11/20 = 0.55; m = (0.1, 0): L = (10, 19),
    # fraction 20/30 ≈ 0.67. Smaller m would be unbounded, larger m shortens the time.
    found = search(0.6)
    assert found is not None
    np.testing.assert_allclose(found, [0.0, 0.1])
    found = search(0.7)
    assert found is not None
    np.testing.assert_allclose(found, [0.1, 0.0])


def test_observed_history_enters_the_constraint() -> None:
    assert search(0.2, observed=1000, in_overload=100) is not None
    assert search(0.2, observed=1000, in_overload=300) is None


# --- the detector -------------------------------------------------------------------------


def test_persistent_overload_migrates_unless_the_limit_allows_everything() -> None:
    history = np.full(20, 0.9)  # P̂ = [[0, 0], [0, 19/30]]: L_0 = 0, fraction = 1
    assert build(otf=0.5)(history, CTX, {}) == (True, {"time_in_states": 1, "time_in_state_n": 1})
    assert build(otf=1.0)(history, CTX, {})[0] is False


def test_the_counters_decide_for_the_same_history() -> None:
    # L_1 <= 1/(1 − 19/30) < 3 steps in overload are expected from here.
    history = np.full(20, 0.9)
    detector = build(otf=0.1)
    quiet = {"time_in_states": 1000, "time_in_state_n": 0}
    busy = {"time_in_states": 1000, "time_in_state_n": 900}
    assert detector(history, CTX, quiet) == (False, {"time_in_states": 1001, "time_in_state_n": 1})
    assert detector(history, CTX, busy) == (True, {"time_in_states": 1001, "time_in_state_n": 901})


def test_migration_time_tightens_the_decision() -> None:
    history = np.full(20, 0.9)
    quiet = {"time_in_states": 1000, "time_in_state_n": 0}
    long_migration = DetectorContext(time_step_s=300.0, migration_time_s=300.0 * 200)
    assert build(otf=0.1)(history, long_migration, quiet)[0] is True


def test_learning_steps_gate_the_decision() -> None:
    history = np.full(20, 0.9)
    assert build(otf=0.5, learning_steps=21)(history, CTX, {})[0] is False
    assert build(otf=0.5, learning_steps=20)(history, CTX, {})[0] is True


def test_not_in_the_overload_state_means_no_migration() -> None:
    history = np.concatenate([np.full(30, 0.9), [0.7]])
    decision, state = build(otf=0.1)(history, CTX, {"time_in_states": 5, "time_in_state_n": 5})
    assert decision is False
    assert state == {"time_in_states": 6, "time_in_state_n": 5}


def test_no_migration_when_overload_was_never_seen_to_last() -> None:
    history = np.concatenate([np.full(30, 0.5), [0.9]])  # P̂[1][1] = 0
    assert build(otf=0.1)(history, CTX, {})[0] is False


def test_three_states_use_the_top_state_as_overload() -> None:
    top = np.full(20, 0.95)
    middle = np.full(20, 0.85)
    detector = build(state_config=[0.8, 0.9], otf=0.5)
    assert detector(top, CTX, {}) == (True, {"time_in_states": 1, "time_in_state_n": 1})
    assert detector(middle, CTX, {}) == (False, {"time_in_states": 1, "time_in_state_n": 0})


def test_empty_history_changes_nothing() -> None:
    state = {"time_in_states": 3, "time_in_state_n": 1}
    assert build()(np.zeros(0), CTX, state) == (False, state)


@pytest.mark.parametrize(
    ("state", "history"),
    [
        ({"time_in_states": -1}, [0.9]),
        ({"time_in_states": 1, "time_in_state_n": 2}, [0.9]),
        ({"time_in_state_n": 0.5}, [0.9]),
        ({}, [0.5, float("nan")]),
    ],
)
def test_bad_input_is_rejected(state: dict[str, object], history: list[float]) -> None:
    with pytest.raises(InputError):
        build()(np.asarray(history), CTX, state)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state_config": []}, "state_config"),
        ({"state_config": [0.9, 0.8]}, "state_config"),
        ({"state_config": [0.8, 0.8]}, "state_config"),
        ({"state_config": [0.0]}, "state_config"),
        ({"state_config": [1.2]}, "state_config"),
        ({"otf": 0.0}, "otf"),
        ({"otf": 1.5}, "otf"),
        ({"window_sizes": [40, 30]}, "window_sizes"),
        ({"window_sizes": [1, 30]}, "window_sizes"),
        ({"bruteforce_step": 0.0}, "bruteforce_step"),
        ({"bruteforce_step": 1.5}, "bruteforce_step"),
        ({"learning_steps": 0}, "learning_steps"),
        ({"history_size": 500}, "history_size"),
        ({"state_config": [0.5, 0.7, 0.9], "bruteforce_step": 0.01}, "policy search"),
    ],
)
def test_bad_parameters_raise_parameter_error(params: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError, match=field):
        OVERLOAD.build("mhod", params)


def test_defaults() -> None:
    params = OVERLOAD.params("mhod")
    assert params.model_dump() == {
        "state_config": (0.8,),
        "otf": 0.1,
        "window_sizes": (30, 40, 50, 60, 70, 80, 90, 100),
        "bruteforce_step": 0.1,
        "learning_steps": 10,
    }


SMALL = build(state_config=[0.8], otf=0.3, window_sizes=[2, 4, 8], learning_steps=3)
THREE = build(state_config=[0.5, 0.8], otf=0.3, window_sizes=[2, 4, 8], learning_steps=3)


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(st.floats(0.0, 1.2), max_size=50),
    observed=st.integers(0, 500),
    share=st.floats(0.0, 1.0),
    tm=st.floats(0.0, 3000.0),
    three_states=st.booleans(),
)
def test_state_is_json_unchanged_on_input_and_counters_only_grow(
    history: list[float], observed: int, share: float, tm: float, three_states: bool
) -> None:
    state = {"time_in_states": observed, "time_in_state_n": int(observed * share)}
    before = copy.deepcopy(state)
    ctx = DetectorContext(time_step_s=300.0, migration_time_s=tm)
    detector = THREE if three_states else SMALL
    decision, new_state = detector(np.asarray(history, dtype=np.float64), ctx, state)
    assert state == before
    assert json.loads(json.dumps(new_state)) == new_state
    grew = 1 if history else 0
    assert new_state["time_in_states"] == before["time_in_states"] + grew
    n_before, n_after = before["time_in_state_n"], new_state["time_in_state_n"]
    assert n_before <= n_after <= n_before + grew
    assert isinstance(decision, bool)
    if decision:
        assert history[-1] >= 0.8
