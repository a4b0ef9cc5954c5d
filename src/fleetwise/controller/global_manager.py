"""The global manager service: planning rounds and sample retention, as periodic tasks.

Each round supersedes plans whose approval window passed, reads the fleet and the
pending requests in one transaction, lets the decision core's
:func:`~fleetwise.core.round.plan_round` decide (every rule of a round lives there),
and stores the plan together with the outcome of every request it handled, again in
one transaction. Automatic plans start at the executor's next pass; recommended ones
wait for approval until they expire.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.observation import observe_fleet
from fleetwise.controller.plan_draft import draft_plan
from fleetwise.core.round import RequestOutcome, RoundConfig, RoundDecision, plan_round
from fleetwise.service import Manager
from fleetwise.store.fleet import read_fleet
from fleetwise.store.plans import record_round, supersede_expired_plans
from fleetwise.store.samples import delete_samples_before
from fleetwise.store.views import PlanView

__all__ = ["SAMPLES_KEPT_PER_OWNER", "GlobalManagerService", "round_config"]

logger = logging.getLogger(__name__)

SAMPLES_KEPT_PER_OWNER = 2
"""Samples kept past the retention period (more if the demand window is longer)."""


def round_config(context: ControllerContext) -> RoundConfig:
    """The round's rules from the controller's configuration.

    A request stays valid for the staleness window plus one round spacing: the window
    covers its trip, the spacing its wait for the next round.
    """
    config = context.config
    return RoundConfig(
        global_manager=config.global_manager,
        request_max_age_s=config.staleness_window_s + config.plan_round_spacing_s,
        heartbeat_timeout_s=config.heartbeat_timeout_s,
    )


class GlobalManagerService(Manager):
    """Runs planning rounds every ``plan_round_spacing_s`` and prunes old samples."""

    def __init__(self, context: ControllerContext, **kwargs: Any) -> None:
        super().__init__(context.clock, **kwargs)
        self.context = context
        config = context.config
        self.rules = round_config(context)
        self.last_decision: RoundDecision | None = None
        self.add_periodic_task(
            self.plan_round, spacing=config.plan_round_spacing_s, name="plan_round"
        )
        self.add_periodic_task(
            self.prune_samples, spacing=config.retention_spacing_s, name="prune_samples"
        )

    def plan_round(self) -> PlanView | None:
        """Plan for the pending requests, drains and idle hosts; returns the new plan, if any."""
        context, config = self.context, self.context.config
        now = context.now()
        superseded = context.store.run(supersede_expired_plans, now=now)
        if superseded:
            logger.info("plans expired before they started: %s", list(superseded))
        fleet = context.store.read(read_fleet, config.global_manager.demand_samples)
        observation = observe_fleet(
            fleet,
            now=now,
            power_control=context.power.can_control,
            power_model=config.power_model,
        )
        decision = plan_round(observation, self.rules)
        self.last_decision = decision
        _log_decision(decision)
        draft = draft_plan(
            decision,
            mode=context.mode,
            now=now,
            expiry_s=config.plan_expiry_s,
            max_attempts=config.max_attempts,
        )
        plan = context.store.run(record_round, draft, decision.verdicts, now=now)
        if plan is not None:
            logger.info(
                "plan %s (%s, %s): %d actions for %s",
                plan.id,
                plan.mode.value,
                plan.state.value,
                len(plan.actions),
                plan.reason,
            )
        return plan

    def prune_samples(self) -> int:
        """Delete samples older than the retention period; returns how many went."""
        context = self.context
        cutoff = context.now() - timedelta(seconds=context.config.sample_retention_s)
        keep = max(SAMPLES_KEPT_PER_OWNER, context.config.global_manager.demand_samples)
        deleted = context.store.run(delete_samples_before, cutoff, keep_last=keep)
        if deleted:
            logger.info("deleted %d samples older than %s", deleted, cutoff.isoformat())
        return deleted


def _log_decision(decision: RoundDecision) -> None:
    for note in decision.solution.notes:
        logger.info("planning note: %s", note)
    waiting = [v.host_id for v in decision.verdicts if v.outcome is RequestOutcome.WAITING]
    if waiting:
        logger.info("requests from %s wait: a plan is still open", ", ".join(sorted(waiting)))
    for verdict in decision.verdicts:
        if verdict.outcome is not RequestOutcome.WAITING:
            logger.info(
                "request %s of %s: %s (%s)",
                verdict.request_id,
                verdict.host_id,
                verdict.outcome.value,
                verdict.note,
            )
