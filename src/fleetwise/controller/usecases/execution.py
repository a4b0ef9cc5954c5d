"""The executor's pass: carry the open plans out, step by step.

Each pass works only from the store, so a restarted controller simply carries on:

1. plans whose approval window passed are superseded;
2. running migrations whose outcome the agents' reports now tell are settled;
3. every ONGOING action is advanced: a wake-up is confirmed or timed out, a failed
   attempt is retried (or, if its plan already ended, given up);
4. pending plans start, and the PENDING actions of running plans whose
   dependencies are done start in order, migrations only within the caps.

A plan ends with its last action, and a failing action fails its plan at once (its
actions that had not started are cancelled, running ones finish): the life cycle's
coupling rules, applied by the store in the same transaction. One action's error
never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases.migrations import attempt_migration, resolve_migrations
from fleetwise.controller.usecases.power import advance_wake, attempt_sleep
from fleetwise.core.execution import MigrationSlots, startable
from fleetwise.core.lifecycle import ActionKind, PlanState, is_terminal
from fleetwise.core.planner import PlannedAction, dependencies
from fleetwise.errors import DriverError, InputError
from fleetwise.store.attempts import fail_attempt
from fleetwise.store.migration_log import migration_of_action, unfinished_migrations
from fleetwise.store.plans import (
    get_plan,
    ongoing_actions,
    open_plans,
    supersede_expired_plans,
    transition_plan,
)
from fleetwise.store.views import ActionView, PlanView

__all__ = ["ExecutionPass"]

logger = logging.getLogger(__name__)


class ExecutionPass:
    """The executor's passes; ``warned`` remembers migrations already reported as unknown."""

    def __init__(self, context: ControllerContext) -> None:
        self.context = context
        self._warned: set[int] = set()

    def run(self) -> None:
        """One pass over every open plan and running action."""
        context = self.context
        store = context.store
        now = context.now()
        expired = store.run(supersede_expired_plans, now=now)
        if expired:
            logger.info("plans expired before they started: %s", list(expired))
        _guard("settling migrations", resolve_migrations, context, now, self._warned)
        slots = MigrationSlots(
            context.config.migration_caps,
            ((m.source_host, m.destination_host) for m in store.read(unfinished_migrations)),
        )
        for action, plan_state in store.read(ongoing_actions):
            _guard(f"action {action.id}", self._advance, action, plan_state, slots, now)
        for plan in store.read(open_plans):
            _guard(f"plan {plan.id}", self._run_plan, plan, slots, now)

    def _run_plan(self, plan: PlanView, slots: MigrationSlots, now: datetime) -> None:
        """Start a pending plan, start what it can, and close it when it is done."""
        store = self.context.store
        if plan.state is PlanState.PENDING:
            plan = store.run(
                transition_plan, plan.id, PlanState.PENDING, PlanState.ONGOING, now=now
            )
            logger.info("plan %s started: %s", plan.id, plan.reason)
        if plan.state is not PlanState.ONGOING:
            return
        self._dispatch(plan, slots, now)
        finished = store.read(get_plan, plan.id)
        if is_terminal(finished.state):
            logger.info("plan %s %s", plan.id, finished.state.value)

    def _advance(
        self, action: ActionView, plan_state: PlanState, slots: MigrationSlots, now: datetime
    ) -> None:
        """Start, retry or follow up one action (a migration only if no attempt runs)."""
        context = self.context
        if action.kind is ActionKind.WAKE:
            advance_wake(context, action, plan_state, now)
        elif action.kind is ActionKind.SLEEP:
            attempt_sleep(context, action, plan_state, now)
        elif context.store.read(migration_of_action, action.id) is not None:
            return  # its outcome comes from the agent or from the VM's reports
        elif is_terminal(plan_state):
            context.store.run(
                fail_attempt, action.id, f"plan is {plan_state.value}", now=now, final=True
            )
        else:
            attempt_migration(context, action, slots, now)

    def _dispatch(self, plan: PlanView, slots: MigrationSlots, now: datetime) -> None:
        """Start the plan's PENDING actions whose dependencies are done."""
        by_seq = {a.seq: a for a in plan.actions}
        waits_for = dependencies([_planned(a) for a in plan.actions])
        store = self.context.store
        for seq in startable({a.seq: a.state for a in plan.actions}, waits_for):
            action = by_seq[seq]
            _guard(f"action {action.id}", self._advance, action, plan.state, slots, now)
            if store.read(get_plan, plan.id).state is not PlanState.ONGOING:
                return  # the plan failed: nothing more of it starts


def _planned(action: ActionView) -> PlannedAction:
    """A stored action in the planner's terms (the host a migration leaves, or powers)."""
    host = action.source_host if action.kind is ActionKind.MIGRATE else action.host
    assert host is not None
    return PlannedAction(action.seq, action.kind, host, action.vm_uuid, action.destination_host)


def _guard(what: str, step: Callable[..., Any], *args: Any) -> Any:
    """Run one step; bad input and driver faults are logged, never propagated."""
    try:
        return step(*args)
    except (InputError, DriverError) as exc:
        logger.warning("%s: %s", what, exc)
        return None
