"""Plans and actions: creation, forward-only transitions, optimistic conflicts, restart."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fleetwise.core.lifecycle import (
    ActionState,
    IllegalTransition,
    PlanMode,
    PlanState,
    PlanStatus,
    allowed_targets,
    move_plan,
)
from fleetwise.core.round import RequestOutcome
from fleetwise.errors import ParameterError
from fleetwise.store import ConflictError, NotFoundError, Store
from fleetwise.store.database import session_factory
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.inventory import register_host, report_vms
from fleetwise.store.migration_log import list_migrations, start_migration
from fleetwise.store.models import ActionRow, PlanRow
from fleetwise.store.plans import (
    create_plan,
    get_action,
    get_plan,
    list_plans,
    open_plans,
    record_failed_attempt,
    supersede_expired_plans,
    transition_action,
    transition_plan,
)
from fleetwise.store.reallocation import record_request, set_request_outcome
from fleetwise.store.records import ActionDraft, PlanDraft
from fleetwise.store.views import PlanView
from tests.helpers.store import at, host_spec, vm_report, vm_uuid, wipe

P, A = PlanState, ActionState


def _populate(session: Session) -> None:
    for name in ("h0", "h1", "h2"):
        register_host(session, host_spec(name), now=at(0))
    report_vms(session, "h0", [vm_report(1), vm_report(2)], at(0))


def _setup(store: Store) -> None:
    store.run(_populate)


@pytest.fixture
def fleet(store: Store) -> Store:
    _setup(store)
    return store


def _draft(mode: PlanMode = PlanMode.AUTOMATIC, **kwargs: object) -> PlanDraft:
    actions = (
        ActionDraft.migrate(vm_uuid(1), "h0", "h1"),
        ActionDraft.migrate(vm_uuid(2), "h0", "h1"),
        ActionDraft.sleep("h0", wave=1),
    )
    return PlanDraft(mode, "underload of h0", actions, **kwargs)  # type: ignore[arg-type]


def _states(engine: Engine, plan_id: int) -> tuple[PlanState, list[ActionState]]:
    with session_factory(engine)() as session:
        plan = session.scalars(select(PlanRow.state).where(PlanRow.id == plan_id)).one()
        actions = session.scalars(
            select(ActionRow.state).where(ActionRow.plan_id == plan_id).order_by(ActionRow.seq)
        ).all()
        return plan, list(actions)


# --- creation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "state"), [(PlanMode.AUTOMATIC, P.PENDING), (PlanMode.RECOMMEND, P.RECOMMENDED)]
)
def test_new_plan_state_depends_on_mode(fleet: Store, mode: PlanMode, state: PlanState) -> None:
    plan = fleet.run(create_plan, _draft(mode, source_host="h0"), now=at(1))
    assert plan.state is state and plan.source_host == "h0"
    assert [(a.seq, a.wave, a.kind.value, a.state) for a in plan.actions] == [
        (0, 0, "migrate", A.PENDING),
        (1, 0, "migrate", A.PENDING),
        (2, 1, "sleep", A.PENDING),
    ]
    first = plan.actions[0]
    assert (first.vm_uuid, first.source_host, first.destination_host) == (vm_uuid(1), "h0", "h1")
    assert plan.actions[2].host == "h0" and plan.actions[2].vm_uuid is None
    assert fleet.read(get_plan, plan.id) == plan


def test_plan_may_chain_moves_of_one_vm(fleet: Store) -> None:
    draft = PlanDraft(
        PlanMode.AUTOMATIC,
        "rebalance",
        (
            ActionDraft.wake("h2"),
            ActionDraft.migrate(vm_uuid(1), "h0", "h1", wave=1),
            ActionDraft.migrate(vm_uuid(1), "h1", "h2", wave=2),
        ),
    )
    assert len(fleet.run(create_plan, draft, now=at(1)).actions) == 3


@pytest.mark.parametrize(
    ("actions", "error"),
    [
        ((ActionDraft.migrate(vm_uuid(1), "h1", "h2"),), ConflictError),  # VM is on h0
        ((ActionDraft.migrate(vm_uuid(1), "h0", "h9"),), NotFoundError),
        ((ActionDraft.migrate(vm_uuid(9), "h0", "h1"),), NotFoundError),
        (
            (
                ActionDraft.migrate(vm_uuid(1), "h0", "h1"),
                ActionDraft.migrate(vm_uuid(1), "h0", "h2", wave=1),  # it left h0 already
            ),
            ConflictError,
        ),
    ],
)
def test_invalid_plans_are_rejected_and_store_nothing(
    fleet: Store, actions: tuple[ActionDraft, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        fleet.run(create_plan, PlanDraft(PlanMode.AUTOMATIC, "x", actions), now=at(1))
    assert fleet.read(list_plans) == ()


def test_plan_drafts_validate_themselves(fleet: Store) -> None:
    with pytest.raises(ParameterError, match="wave order"):
        PlanDraft(
            PlanMode.AUTOMATIC, "x", (ActionDraft.sleep("h0", wave=1), ActionDraft.wake("h1"))
        )
    with pytest.raises(ParameterError, match="at least one action"):
        PlanDraft(PlanMode.AUTOMATIC, "x", ())
    with pytest.raises(ParameterError, match="to itself"):
        ActionDraft.migrate(vm_uuid(1), "h0", "h0")
    with pytest.raises(ParameterError, match="exactly one host"):
        ActionDraft(ActionDraft.sleep("h0").kind, host="h0", vm_uuid=vm_uuid(1))
    with pytest.raises(ParameterError, match="expire"):
        fleet.run(create_plan, _draft(expires_at=at(1)), now=at(2))


# --- transitions ------------------------------------------------------------------------------


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    attempts=st.lists(
        st.tuples(st.sampled_from(list(PlanState)), st.booleans()), min_size=1, max_size=8
    )
)
def test_plan_states_only_move_along_the_life_cycle(
    store: Store, engine: Engine, attempts: list[tuple[PlanState, bool]]
) -> None:
    wipe(engine)
    _setup(store)
    plan = store.run(
        create_plan,
        PlanDraft(PlanMode.RECOMMEND, "x", (ActionDraft.sleep("h2"),)),
        now=at(0),
    )
    store.run(transition_action, plan.actions[0].id, A.PENDING, A.SKIPPED, now=at(0))
    state, updated = P.RECOMMENDED, at(0)
    for i, (target, honest) in enumerate(attempts, start=1):
        expected = state if honest else next(s for s in PlanState if s is not state)
        try:
            view = store.run(transition_plan, plan.id, expected, target, now=at(i))
        except IllegalTransition:
            assert target not in allowed_targets(expected)
        except ConflictError:
            assert not honest and target in allowed_targets(expected)
        else:
            assert honest and target in allowed_targets(state)
            # The plan's only action was skipped: once ongoing, the plan has ended.
            state = move_plan(PlanStatus(state, {0: A.SKIPPED}), target).state
            assert view.state is state and view.updated_at == at(i)
            updated = at(i)
        stored = store.read(
            lambda s: s.execute(
                select(PlanRow.state, PlanRow.updated_at).where(PlanRow.id == plan.id)
            ).one()
        )
        assert tuple(stored) == (state, updated)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    attempts=st.lists(
        st.tuples(st.sampled_from(list(ActionState)), st.booleans()), min_size=1, max_size=8
    )
)
def test_action_states_only_move_along_the_life_cycle(
    store: Store, engine: Engine, attempts: list[tuple[ActionState, bool]]
) -> None:
    wipe(engine)
    _setup(store)
    plan = store.run(create_plan, _draft(), now=at(0))
    store.run(transition_plan, plan.id, P.PENDING, P.ONGOING, now=at(0))
    action_id = plan.actions[0].id
    state = A.PENDING
    before = store.read(get_action, action_id)
    for i, (target, honest) in enumerate(attempts, start=1):
        expected = state if honest else next(s for s in ActionState if s is not state)
        try:
            view = store.run(transition_action, action_id, expected, target, now=at(i))
        except IllegalTransition:
            assert target not in allowed_targets(expected)
        except ConflictError:
            assert not honest
        else:
            assert honest and target in allowed_targets(state)
            assert view.state is target and view.updated_at == at(i)
            state = target
            before = view
        assert store.read(get_action, action_id) == before
    assert before.attempts == (0 if before.started_at is None else 1)


def test_stale_expectation_is_a_conflict_and_changes_nothing(fleet: Store, engine: Engine) -> None:
    plan = fleet.run(create_plan, _draft(), now=at(1))
    reader = session_factory(engine, read_only=True)
    with reader() as session_a:  # operator A looks at the plan ...
        seen_by_a = get_plan(session_a, plan.id).state
    fleet.run(transition_plan, plan.id, P.PENDING, P.ONGOING, now=at(2))  # ... B starts it ...
    with pytest.raises(ConflictError, match="is ongoing, not pending"):  # ... A cancels
        fleet.run(transition_plan, plan.id, seen_by_a, P.CANCELLED, now=at(3))
    assert _states(engine, plan.id) == (P.ONGOING, [A.PENDING] * 3)


def test_racing_writers_one_wins_the_other_gets_a_conflict(fleet: Store, engine: Engine) -> None:
    plan = fleet.run(create_plan, _draft(), now=at(1))
    barrier = threading.Barrier(2)
    outcomes: dict[PlanState, object] = {}

    def writer(target: PlanState) -> None:
        barrier.wait()
        try:
            outcomes[target] = fleet.run(transition_plan, plan.id, P.PENDING, target, now=at(2))
        except ConflictError as exc:
            outcomes[target] = exc

    threads = [threading.Thread(target=writer, args=(t,)) for t in (P.ONGOING, P.CANCELLED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [t for t, o in outcomes.items() if isinstance(o, PlanView)]
    losers = [t for t, o in outcomes.items() if isinstance(o, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1
    expected_actions = [A.CANCELLED] * 3 if winners[0] is P.CANCELLED else [A.PENDING] * 3
    assert _states(engine, plan.id) == (winners[0], expected_actions)


def test_closing_a_plan_cancels_only_actions_not_started(fleet: Store, engine: Engine) -> None:
    plan = fleet.run(create_plan, _draft(), now=at(1))
    fleet.run(transition_plan, plan.id, P.PENDING, P.ONGOING, now=at(2))
    fleet.run(transition_action, plan.actions[0].id, A.PENDING, A.ONGOING, now=at(3))
    closed = fleet.run(transition_plan, plan.id, P.ONGOING, P.CANCELLED, now=at(4), message="op")
    assert [a.state for a in closed.actions] == [A.ONGOING, A.CANCELLED, A.CANCELLED]
    assert closed.message == "op" and closed.actions[1].finished_at == at(4)
    # The migration in flight may still finish and be recorded.
    done = fleet.run(transition_action, plan.actions[0].id, A.ONGOING, A.SUCCEEDED, now=at(5))
    assert done.finished_at == at(5)


def test_actions_start_only_in_an_ongoing_plan(fleet: Store) -> None:
    plan = fleet.run(create_plan, _draft(PlanMode.RECOMMEND), now=at(1))
    with pytest.raises(ConflictError, match="starts only in an ongoing plan"):
        fleet.run(transition_action, plan.actions[0].id, A.PENDING, A.ONGOING, now=at(2))
    skipped = fleet.run(transition_action, plan.actions[0].id, A.PENDING, A.SKIPPED, now=at(2))
    assert skipped.state is A.SKIPPED  # an operator may skip before approving


def test_plan_succeeds_only_when_its_actions_are_done(fleet: Store) -> None:
    plan = fleet.run(create_plan, _draft(), now=at(1))
    fleet.run(transition_plan, plan.id, P.PENDING, P.ONGOING, now=at(2))
    with pytest.raises(ConflictError, match="only once every action succeeded or was skipped"):
        fleet.run(transition_plan, plan.id, P.ONGOING, P.SUCCEEDED, now=at(3))
    assert fleet.read(get_plan, plan.id).state is P.ONGOING
    for i, action in enumerate(plan.actions):
        fleet.run(transition_action, action.id, A.PENDING, A.ONGOING, now=at(4 + 2 * i))
        assert fleet.read(get_plan, plan.id).state is P.ONGOING  # an action is unfinished
        fleet.run(transition_action, action.id, A.ONGOING, A.SUCCEEDED, now=at(5 + 2 * i))
    # The last action to finish ends the plan in the same transaction.
    finished = fleet.read(get_plan, plan.id)
    last = 5 + 2 * (len(plan.actions) - 1)
    assert finished.state is P.SUCCEEDED and finished.updated_at == at(last)


def test_failed_attempts_are_retried_up_to_the_limit(fleet: Store) -> None:
    draft = PlanDraft(
        PlanMode.AUTOMATIC, "x", (ActionDraft.migrate(vm_uuid(1), "h0", "h1", max_attempts=2),)
    )
    plan = fleet.run(create_plan, draft, now=at(1))
    fleet.run(transition_plan, plan.id, P.PENDING, P.ONGOING, now=at(2))
    action_id = plan.actions[0].id
    first = fleet.run(transition_action, action_id, A.PENDING, A.ONGOING, now=at(3))
    assert first.attempts == 1
    retry = fleet.run(record_failed_attempt, action_id, 1, "timeout", now=at(4))
    assert (retry.state, retry.attempts, retry.last_error) == (A.ONGOING, 2, "timeout")
    with pytest.raises(ConflictError):  # a stale attempt count changes nothing
        fleet.run(record_failed_attempt, action_id, 1, "late", now=at(5))
    last = fleet.run(record_failed_attempt, action_id, 2, "refused", now=at(6))
    assert (last.state, last.attempts, last.last_error) == (A.FAILED, 2, "refused")
    assert last.finished_at == at(6)
    failed = fleet.read(get_plan, plan.id)
    assert failed.state is P.FAILED and failed.message == f"action {action_id} failed: refused"


def test_expired_plans_are_superseded(fleet: Store) -> None:
    old = fleet.run(create_plan, _draft(PlanMode.RECOMMEND, expires_at=at(100)), now=at(1))
    fresh = fleet.run(create_plan, _draft(PlanMode.RECOMMEND, expires_at=at(500)), now=at(2))
    running = fleet.run(create_plan, _draft(expires_at=at(100)), now=at(3))
    fleet.run(transition_plan, running.id, P.PENDING, P.ONGOING, now=at(4))
    assert fleet.run(supersede_expired_plans, now=at(200)) == (old.id,)
    superseded = fleet.read(get_plan, old.id)
    assert superseded.state is P.SUPERSEDED and superseded.message == "expired"
    assert {a.state for a in superseded.actions} == {A.CANCELLED}
    assert fleet.read(get_plan, fresh.id).state is P.RECOMMENDED
    assert fleet.read(get_plan, running.id).state is P.ONGOING


def test_plan_for_a_request(fleet: Store) -> None:
    request = fleet.run(
        record_request, "h0", ReallocationReason.UNDERLOAD, [vm_uuid(1)], received_at=at(1)
    )
    plan = fleet.run(create_plan, _draft(request_id=request.id), now=at(2))
    handled = fleet.run(set_request_outcome, request.id, RequestOutcome.PLANNED, now=at(2))
    assert plan.request_id == request.id and handled.outcome is RequestOutcome.PLANNED
    with pytest.raises(ConflictError, match="already handled"):
        fleet.run(set_request_outcome, request.id, RequestOutcome.STALE, now=at(3))
    with pytest.raises(ParameterError, match="must name the VMs"):
        fleet.run(record_request, "h0", ReallocationReason.OVERLOAD, [], received_at=at(3))
    with pytest.raises(NotFoundError):
        fleet.run(create_plan, _draft(request_id=request.id + 100), now=at(4))


# --- restart ----------------------------------------------------------------------------


def test_unfinished_plans_survive_a_restart(fleet: Store, migrated_url: str) -> None:
    done = fleet.run(create_plan, _draft(), now=at(1))
    fleet.run(transition_plan, done.id, P.PENDING, P.CANCELLED, now=at(2))
    waiting = fleet.run(create_plan, _draft(PlanMode.RECOMMEND, expires_at=at(3600)), now=at(3))
    running = fleet.run(create_plan, _draft(), now=at(4))
    fleet.run(transition_plan, running.id, P.PENDING, P.ONGOING, now=at(5))
    action = fleet.run(transition_action, running.actions[0].id, A.PENDING, A.ONGOING, now=at(6))
    fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(6), action_id=action.id)
    before = fleet.read(open_plans)
    fleet.close()  # the controller dies: every connection is dropped

    reopened = Store.open(migrated_url)
    try:
        after = reopened.read(open_plans)
        assert after == before
        assert [p.id for p in after] == [waiting.id, running.id]
        assert after[1].actions[0].state is A.ONGOING
        assert after[0].expires_at == at(3600)
        (migration,) = reopened.read(list_migrations, vm_uuid=vm_uuid(1))
        assert migration.finished_at is None and migration.action_id == action.id
    finally:
        reopened.close()


def test_list_plans_filters_by_state_newest_first(fleet: Store) -> None:
    first = fleet.run(create_plan, _draft(PlanMode.RECOMMEND), now=at(1))
    second = fleet.run(create_plan, _draft(), now=at(2) + timedelta(seconds=1))
    assert [p.id for p in fleet.read(list_plans)] == [second.id, first.id]
    assert [p.id for p in fleet.read(list_plans, [P.RECOMMENDED])] == [first.id]
