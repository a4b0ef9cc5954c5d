"""Life-cycle tables: the exact edges, forward-only movement, and advance()'s contract."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core import lifecycle
from fleetwise.core.lifecycle import (
    ActionState,
    HostPowerState,
    IllegalTransition,
    PlanMode,
    PlanState,
    PlanStatus,
    advance,
    after_failed_attempt,
    allowed_targets,
    edges,
    initial_plan_state,
    is_terminal,
    move_action,
    move_plan,
    plan_outcome,
    settle,
)
from fleetwise.errors import InputError

P, A, H = PlanState, ActionState, HostPowerState

# Written out independently of the module's tables: a change to a life cycle must be
# a deliberate change to this test too.
PLAN_EDGES = {
    (P.RECOMMENDED, P.PENDING),
    (P.RECOMMENDED, P.CANCELLED),
    (P.RECOMMENDED, P.SUPERSEDED),
    (P.PENDING, P.ONGOING),
    (P.PENDING, P.CANCELLED),
    (P.PENDING, P.SUPERSEDED),
    (P.ONGOING, P.SUCCEEDED),
    (P.ONGOING, P.FAILED),
    (P.ONGOING, P.CANCELLED),
}
ACTION_EDGES = {
    (A.PENDING, A.ONGOING),
    (A.PENDING, A.SKIPPED),
    (A.PENDING, A.CANCELLED),
    (A.ONGOING, A.SUCCEEDED),
    (A.ONGOING, A.FAILED),
    (A.ONGOING, A.CANCELLED),
}
POWER_EDGES = {
    (H.ACTIVE, H.GOING_TO_SLEEP),
    (H.GOING_TO_SLEEP, H.ASLEEP),
    (H.GOING_TO_SLEEP, H.ACTIVE),
    (H.ASLEEP, H.WAKING),
    (H.WAKING, H.ACTIVE),
    (H.WAKING, H.ASLEEP),
}
# Progress ranks: every plan or action edge must strictly increase the rank.
PLAN_RANK = {P.RECOMMENDED: 0, P.PENDING: 1, P.ONGOING: 2}
ACTION_RANK = {A.PENDING: 0, A.ONGOING: 1}


def test_tables_have_exactly_the_documented_edges() -> None:
    assert set(edges(PlanState)) == PLAN_EDGES
    assert set(edges(ActionState)) == ACTION_EDGES
    assert set(edges(HostPowerState)) == POWER_EDGES


@pytest.mark.parametrize(
    ("kind", "rank"),
    [(PlanState, PLAN_RANK), (ActionState, ACTION_RANK)],
)
def test_plans_and_actions_only_move_forward(kind: Any, rank: dict[object, int]) -> None:
    final = max(rank.values()) + 1
    for src, dst in edges(kind):
        assert rank.get(src, final) < rank.get(dst, final)
    for state in kind:
        assert is_terminal(state) == (state not in rank)


def test_host_power_is_a_cycle_with_only_abort_edges_backwards() -> None:
    cycle = [H.ACTIVE, H.GOING_TO_SLEEP, H.ASLEEP, H.WAKING]
    for here, there in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        assert advance(here, there) is there
    # Only a failed sleep or a failed wake-up returns to where the host was.
    assert {(s, d) for s, d in POWER_EDGES if cycle.index(d) != (cycle.index(s) + 1) % 4} == {
        (H.GOING_TO_SLEEP, H.ACTIVE),
        (H.WAKING, H.ASLEEP),
    }


@given(st.sampled_from(list(PlanState)), st.sampled_from(list(PlanState)))
def test_advance_plan_matches_the_table(current: PlanState, target: PlanState) -> None:
    if (current, target) in PLAN_EDGES:
        assert advance(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            advance(current, target)
        assert info.value.current is current and info.value.target is target
        assert current.value in str(info.value) and target.value in str(info.value)


@given(st.sampled_from(list(ActionState)), st.sampled_from(list(ActionState)))
def test_advance_action_matches_the_table(current: ActionState, target: ActionState) -> None:
    if (current, target) in ACTION_EDGES:
        assert advance(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            advance(current, target)


@given(st.lists(st.sampled_from(list(PlanState)), max_size=20))
def test_random_walk_never_goes_back(attempts: list[PlanState]) -> None:
    state = P.RECOMMENDED
    seen = [state]
    for target in attempts:
        try:
            state = advance(state, target)
        except IllegalTransition:
            assert state is seen[-1]  # a refused step leaves the state as it was
            continue
        assert state not in seen[:-1] and state is not seen[-1]
        seen.append(state)
    assert len(seen) <= 4  # recommended, pending, ongoing, one terminal state


def test_states_of_different_life_cycles_do_not_mix() -> None:
    with pytest.raises(IllegalTransition, match="expected a plan state"):
        advance(P.PENDING, A.ONGOING)  # type: ignore[type-var]


def test_illegal_transition_is_input_error_and_lists_the_way_out() -> None:
    with pytest.raises(InputError, match="allowed next states: cancelled, ongoing, superseded"):
        advance(P.PENDING, P.SUCCEEDED)
    with pytest.raises(IllegalTransition, match="none, it is final"):
        advance(P.SUCCEEDED, P.ONGOING)


def test_allowed_targets_and_terminal_states() -> None:
    assert allowed_targets(A.PENDING) == {A.ONGOING, A.SKIPPED, A.CANCELLED}
    assert {s for s in PlanState if is_terminal(s)} == {
        P.SUCCEEDED,
        P.FAILED,
        P.CANCELLED,
        P.SUPERSEDED,
    }


def test_enums_are_text() -> None:
    for kind in (PlanState, ActionState, HostPowerState, lifecycle.VmState, PlanMode):
        for member in kind:
            assert isinstance(member, str) and member == member.value


def test_initial_plan_state_depends_on_mode() -> None:
    assert initial_plan_state(PlanMode.RECOMMEND) is P.RECOMMENDED
    assert initial_plan_state(PlanMode.AUTOMATIC) is P.PENDING


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "expected"),
    [(1, 3, A.ONGOING), (2, 3, A.ONGOING), (3, 3, A.FAILED), (1, 1, A.FAILED)],
)
def test_after_failed_attempt(attempts: int, max_attempts: int, expected: ActionState) -> None:
    assert after_failed_attempt(attempts, max_attempts) is expected


def test_after_failed_attempt_rejects_nonsense() -> None:
    with pytest.raises(InputError):
        after_failed_attempt(0, 3)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], P.SUCCEEDED),
        ([A.SUCCEEDED, A.SKIPPED], P.SUCCEEDED),
        ([A.SUCCEEDED, A.FAILED, A.CANCELLED], P.FAILED),
        ([A.SUCCEEDED, A.CANCELLED], P.CANCELLED),
        ([A.SUCCEEDED, A.ONGOING], None),
        ([A.PENDING, A.FAILED], None),
    ],
)
def test_plan_outcome(states: list[ActionState], expected: PlanState | None) -> None:
    assert plan_outcome(states) is expected


# -- coupling of plans and actions -----------------------------------------------------

_MOVES = st.lists(
    st.one_of(
        st.tuples(st.just("plan"), st.sampled_from(list(PlanState))),
        st.tuples(st.integers(0, 3), st.sampled_from(list(ActionState))),
    ),
    max_size=25,
)


def _rank(state: PlanState | ActionState) -> int:
    order = {P.RECOMMENDED: 0, P.PENDING: 1, P.ONGOING: 2, A.PENDING: 0, A.ONGOING: 1}
    return order.get(state, 3)  # type: ignore[call-overload]


@given(
    mode=st.sampled_from(list(PlanMode)),
    size=st.integers(1, 4),
    moves=_MOVES,
)
def test_coupled_moves_keep_plans_and_actions_consistent(
    mode: PlanMode, size: int, moves: list[tuple[object, Any]]
) -> None:
    status = PlanStatus(initial_plan_state(mode), dict.fromkeys(range(size), A.PENDING))
    for who, target in moves:
        try:
            if who == "plan":
                after = move_plan(status, target)
            elif isinstance(who, int) and who < size:
                after = move_action(status, who, target)
            else:
                continue
        except IllegalTransition:
            continue
        # States only move forward, for the plan and for every action.
        assert _rank(after.state) >= _rank(status.state)
        assert all(_rank(after.actions[k]) >= _rank(s) for k, s in status.actions.items())
        # Settling again changes nothing.
        assert settle(after) == after
        # The coupling rules hold after every move.
        if after.state is P.ONGOING:
            assert A.FAILED not in after.actions.values()
            assert plan_outcome(after.actions.values()) is None
        if after.state in (P.FAILED, P.CANCELLED, P.SUPERSEDED):
            assert A.PENDING not in after.actions.values()
        if after.state is P.SUCCEEDED:
            assert set(after.actions.values()) <= {A.SUCCEEDED, A.SKIPPED}
        if A.ONGOING in after.actions.values():
            assert after.state in (P.ONGOING, P.FAILED, P.CANCELLED)
        status = after


def test_a_failed_action_fails_its_plan_and_cancels_what_has_not_started() -> None:
    status = PlanStatus(P.ONGOING, {1: A.ONGOING, 2: A.ONGOING, 3: A.PENDING})
    after = move_action(status, 1, A.FAILED)
    assert after == PlanStatus(P.FAILED, {1: A.FAILED, 2: A.ONGOING, 3: A.CANCELLED})
    assert move_action(after, 2, A.SUCCEEDED).state is P.FAILED  # running ones finish


def test_the_last_finished_action_ends_its_plan() -> None:
    status = PlanStatus(P.ONGOING, {1: A.SUCCEEDED, 2: A.ONGOING, 3: A.PENDING})
    status = move_action(status, 3, A.SKIPPED)
    assert status.state is P.ONGOING
    assert move_action(status, 2, A.SUCCEEDED).state is P.SUCCEEDED


def test_guards_of_the_coupling_rules() -> None:
    waiting = PlanStatus(P.RECOMMENDED, {1: A.PENDING})
    with pytest.raises(IllegalTransition, match="starts only in an ongoing plan"):
        move_action(waiting, 1, A.ONGOING)
    assert move_action(waiting, 1, A.SKIPPED).actions[1] is A.SKIPPED
    ended = PlanStatus(P.FAILED, {1: A.FAILED, 2: A.ONGOING})
    with pytest.raises(IllegalTransition, match="already failed"):
        move_action(PlanStatus(P.FAILED, {1: A.FAILED, 2: A.PENDING}), 2, A.SKIPPED)
    with pytest.raises(IllegalTransition, match="only once every action"):
        move_plan(PlanStatus(P.ONGOING, {1: A.ONGOING}), P.SUCCEEDED)
    assert settle(ended) == ended
