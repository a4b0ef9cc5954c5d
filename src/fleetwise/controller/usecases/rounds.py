"""The global manager's round, and the retention of samples.

A round runs in one transaction: plans whose approval window passed are superseded,
the fleet and the pending requests are read, the decision core's
:func:`~fleetwise.core.round.plan_round` decides (every rule of a round lives there),
and the plan is stored with the outcome of every request it handled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.observation import observe_fleet
from fleetwise.controller.plan_draft import draft_plan
from fleetwise.core.round import RequestOutcome, RoundConfig, RoundDecision, plan_round
from fleetwise.store.fleet import read_fleet
from fleetwise.store.plans import record_round, supersede_expired_plans
from fleetwise.store.samples import delete_samples_before
from fleetwise.store.views import PlanView

__all__ = ["SAMPLES_KEPT_PER_OWNER", "RoundResult", "prune_samples", "round_config", "run_round"]

logger = logging.getLogger(__name__)

SAMPLES_KEPT_PER_OWNER = 2
"""Samples kept past the retention period (more if the demand window is longer)."""


@dataclass(frozen=True)
class RoundResult:
    """What a round decided, the plan it stored (if any) and the plans it superseded."""

    decision: RoundDecision
    plan: PlanView | None
    superseded: tuple[int, ...]


def round_config(ctx: ControllerContext) -> RoundConfig:
    """The round's rules from the controller's configuration.

    A request stays valid for the staleness window plus one round spacing: the window
    covers its trip, the spacing its wait for the next round.
    """
    config = ctx.config
    return RoundConfig(
        global_manager=config.global_manager,
        request_max_age_s=config.staleness_window_s + config.plan_round_spacing_s,
        heartbeat_timeout_s=config.heartbeat_timeout_s,
    )


def _round(session: Session, ctx: ControllerContext, now: datetime) -> RoundResult:
    config = ctx.config
    superseded = supersede_expired_plans(session, now=now)
    fleet = read_fleet(session, config.global_manager.demand_samples)
    observation = observe_fleet(
        fleet, now=now, power_control=ctx.power.can_control, power_model=config.power_model
    )
    decision = plan_round(observation, round_config(ctx))
    draft = draft_plan(
        decision,
        mode=ctx.mode,
        now=now,
        expiry_s=config.plan_expiry_s,
        max_attempts=config.max_attempts,
    )
    plan = record_round(session, draft, decision.verdicts, now=now)
    return RoundResult(decision, plan, superseded)


def run_round(ctx: ControllerContext) -> RoundResult:
    """Plan for the pending requests, drains and idle hosts."""
    result = ctx.store.run(_round, ctx, ctx.now())
    if result.superseded:
        logger.info("plans expired before they started: %s", list(result.superseded))
    _log_decision(result.decision)
    plan = result.plan
    if plan is not None:
        logger.info(
            "plan %s (%s, %s): %d actions for %s",
            plan.id,
            plan.mode.value,
            plan.state.value,
            len(plan.actions),
            plan.reason,
        )
    return result


def prune_samples(ctx: ControllerContext) -> int:
    """Delete samples older than the retention period; returns how many went."""
    cutoff = ctx.now() - timedelta(seconds=ctx.config.sample_retention_s)
    keep = max(SAMPLES_KEPT_PER_OWNER, ctx.config.global_manager.demand_samples)
    deleted = ctx.store.run(delete_samples_before, cutoff, keep_last=keep)
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
