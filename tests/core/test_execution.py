"""The executor's rules: readiness of actions, caps, and whether a host may sleep."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.execution import (
    MigrationCaps,
    MigrationSlots,
    Readiness,
    RunningMigration,
    migration_end,
    startable,
)
from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    MigrationOutcome,
    VmState,
    allowed_targets,
)
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


def _running(**changes: object) -> RunningMigration:
    base = RunningMigration(
        source="a",
        destination="b",
        started_s=1000.0,
        vm_host="a",
        vm_state=VmState.MIGRATING,
        vm_located_s=900.0,
        vm_reported_s=1000.0,
        source_heard_s=1000.0,
        destination_heard_s=1000.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _end(migration: RunningMigration, now_s: float) -> MigrationOutcome | None:
    outcome, _ = migration_end(
        migration, now_s, timeout_s=600.0, heartbeat_timeout_s=180.0, grace_s=120.0
    )
    return outcome


def test_a_migration_succeeds_when_the_destination_reports_the_vm_running() -> None:
    arrived = _running(vm_host="b", vm_state=VmState.RUNNING, vm_located_s=1010.0)
    assert _end(arrived, 1020.0) is MigrationOutcome.SUCCEEDED
    stale = _running(vm_host="b", vm_state=VmState.RUNNING, vm_located_s=990.0)
    assert _end(stale, 1020.0) is None  # a report from before the attempt tells nothing


def test_a_migration_fails_when_the_source_still_reports_the_vm_after_the_timeout() -> None:
    early = _running(
        vm_state=VmState.RUNNING, vm_reported_s=1500.0, source_heard_s=1500.0,
        destination_heard_s=1500.0,
    )  # fmt: skip
    assert _end(early, 1550.0) is None  # the timeout has not passed yet
    seen = replace(early, vm_reported_s=1700.0, source_heard_s=1700.0, destination_heard_s=1700.0)
    assert _end(seen, 1701.0) is MigrationOutcome.FAILED
    copying = replace(seen, vm_state=VmState.MIGRATING)
    assert _end(copying, 1701.0) is None  # still being copied: nothing to conclude


@given(
    source_silent=st.floats(0, 1000), destination_silent=st.floats(0, 1000), after=st.floats(0, 900)
)
def test_a_migration_ends_unknown_only_once_an_end_is_silent_past_timeout_and_grace(
    source_silent: float, destination_silent: float, after: float
) -> None:
    now = 1000.0 + after
    migration = _running(
        source_heard_s=now - source_silent, destination_heard_s=now - destination_silent
    )
    outcome = _end(migration, now)
    silent = max(now - max(1000.0, now - s) for s in (source_silent, destination_silent))
    if silent > 300.0:
        assert outcome is MigrationOutcome.UNKNOWN
    else:
        assert outcome is None
