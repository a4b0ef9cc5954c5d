"""The executor's rules: readiness of actions, caps, and whether a host may sleep."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.execution import MigrationCaps, MigrationSlots, Readiness, startable
from fleetwise.core.lifecycle import ActionKind, ActionState, allowed_targets
from fleetwise.core.planner import PlannedAction, dependencies

A = ActionState


def _startable_by_definition(
    states: dict[int, ActionState], waits_for: dict[int, tuple[int, ...]]
) -> list[int]:
    done = {A.SUCCEEDED, A.SKIPPED}
    return sorted(
        k
        for k, s in states.items()
        if s is A.PENDING and all(states[d] in done for d in waits_for.get(k, ()))
    )


@given(
    size=st.integers(1, 12),
    edges=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    changes=st.lists(
        st.tuples(
            st.integers(0, 11), st.sampled_from([A.ONGOING, A.SUCCEEDED, A.SKIPPED, A.FAILED])
        ),
        max_size=40,
    ),
)
def test_readiness_follows_changes_as_the_definition_says(
    size: int, edges: list[tuple[int, int]], changes: list[tuple[int, ActionState]]
) -> None:
    waits_for: dict[int, tuple[int, ...]] = {}
    for a, b in edges:
        if a < size and b < a:  # an action waits only for earlier ones
            waits_for[a] = (*waits_for.get(a, ()), b)
    states = dict.fromkeys(range(size), A.PENDING)
    readiness = Readiness(states, waits_for)
    for key, target in changes:
        if key >= size or target not in allowed_targets(states[key]):
            continue  # states only move along their life cycle
        states[key] = target
        readiness.update(key, target)
        assert readiness.ready() == _startable_by_definition(states, waits_for)
        assert startable(states, waits_for) == readiness.ready()


def test_a_migration_waits_for_the_wake_up_and_for_departures_from_its_destination() -> None:
    plan = [
        PlannedAction(0, ActionKind.WAKE, "d"),
        PlannedAction(1, ActionKind.MIGRATE, "a", "v1", "d"),
        PlannedAction(2, ActionKind.MIGRATE, "b", "v2", "a"),
        PlannedAction(3, ActionKind.SLEEP, "b"),
    ]
    waits_for = dependencies(plan)
    states = dict.fromkeys(range(4), A.PENDING)
    readiness = Readiness(states, waits_for)
    assert readiness.ready() == [0]
    readiness.update(0, A.SUCCEEDED)
    assert readiness.ready() == [1]  # v2 goes to a only once v1 has left it
    readiness.update(1, A.SUCCEEDED)
    assert readiness.ready() == [2]  # b sleeps once v2 has left it
    readiness.update(2, A.SUCCEEDED)
    assert readiness.ready() == [3]


def test_slots_respect_every_cap() -> None:
    slots = MigrationSlots(MigrationCaps(total=3, per_source=1, per_destination=2), [("a", "x")])
    assert not slots.take("a", "y")  # a already sends one
    assert slots.take("b", "x") and not slots.take("c", "x")  # x takes two at most
    assert slots.take("c", "y") and slots.exhausted
    slots.release("c", "y")
    assert not slots.exhausted
