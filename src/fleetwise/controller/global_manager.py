"""The global manager service: planning rounds and sample retention, as periodic tasks.

Each round batches every pending reallocation request:

1. plans whose approval window passed are superseded;
2. requests older than the staleness window plus one round spacing are rejected
   (their local manager asks again if the need persists), and of several requests
   from one host only the newest is kept;
3. while any plan is still open (recommended, pending or ongoing) nothing new is
   planned, so no two plans ever book the same VM or host;
4. otherwise the store's state becomes a :class:`~fleetwise.core.global_manager.ClusterSnapshot`,
   the decision core plans, and the plan is stored together with the outcome of
   every request it considered. Automatic plans start at the executor's next pass;
   recommended ones wait for approval until they expire.

Hosts in maintenance that still hold VMs trigger a round on their own (a drain).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.plan_draft import core_requests, draft_plan, request_outcomes
from fleetwise.controller.snapshot import build_snapshot
from fleetwise.core.global_manager import ClusterSnapshot, Solution, plan_reallocation
from fleetwise.service import Manager
from fleetwise.store.controller_ops import commit_round, pending_requests, read_fleet
from fleetwise.store.enums import RequestOutcome
from fleetwise.store.plans import supersede_expired_plans
from fleetwise.store.samples import delete_samples_before
from fleetwise.store.views import PlanView, RequestView

__all__ = ["SAMPLES_KEPT_PER_OWNER", "GlobalManagerService"]

logger = logging.getLogger(__name__)

SAMPLES_KEPT_PER_OWNER = 2
"""Samples kept past the retention period: enough for a VM's placement demand."""


class GlobalManagerService(Manager):
    """Runs planning rounds every ``plan_round_spacing_s`` and prunes old samples."""

    def __init__(self, context: ControllerContext, **kwargs: Any) -> None:
        super().__init__(context.clock, **kwargs)
        self.context = context
        config = context.config
        self.add_periodic_task(
            self.plan_round, spacing=config.plan_round_spacing_s, name="plan_round"
        )
        self.add_periodic_task(
            self.prune_samples, spacing=config.retention_spacing_s, name="prune_samples"
        )

    def plan_round(self) -> PlanView | None:
        """Plan for the pending requests and drains; returns the new plan, if any."""
        context, config = self.context, self.context.config
        now = context.now()
        superseded = context.store.run(supersede_expired_plans, now=now)
        if superseded:
            logger.info("plans expired before they started: %s", list(superseded))
        outcomes, live = self._triage(context.store.read(pending_requests), now)
        fleet = context.store.read(read_fleet)
        if fleet.open_plans:
            if live:
                logger.info("requests from %s wait: a plan is still open", _hosts(live))
            context.store.run(commit_round, None, outcomes, now=now)
            return None
        snapshot = build_snapshot(fleet, now=now, heartbeat_timeout_s=config.heartbeat_timeout_s)
        present = {h.host_id for h in snapshot.hosts}
        for request in live:
            if request.host not in present:
                logger.info(
                    "request %s rejected: host %s is unreachable, between power states "
                    "or in a running migration",
                    request.id,
                    request.host,
                )
                outcomes[request.id] = RequestOutcome.REJECTED
        live = [r for r in live if r.host in present]
        drained = _hosts_to_drain(snapshot)
        if not live and not drained:
            context.store.run(commit_round, None, outcomes, now=now)
            return None
        solution = self._feasible(
            plan_reallocation(snapshot, core_requests(live), config.global_manager), snapshot
        )
        for note in solution.notes:
            logger.info("planning note: %s", note)
        outcomes.update(request_outcomes(live, solution, snapshot))
        draft = draft_plan(
            solution,
            live,
            drained,
            mode=context.mode,
            now=now,
            expiry_s=config.plan_expiry_s,
            max_attempts=config.max_attempts,
        )
        plan = context.store.run(commit_round, draft, outcomes, now=now)
        if plan is None:
            logger.info("round for %s: nothing to do", _hosts(live) or "drains")
        else:
            logger.info(
                "plan %s (%s, %s): %d actions for %s",
                plan.id,
                plan.mode.value,
                plan.state.value,
                len(plan.actions),
                plan.reason,
            )
        return plan

    def _triage(
        self, requests: tuple[RequestView, ...], now: datetime
    ) -> tuple[dict[int, RequestOutcome], list[RequestView]]:
        """Reject outdated and superseded requests; the newest request per host stays."""
        config = self.context.config
        max_age = timedelta(seconds=config.staleness_window_s + config.plan_round_spacing_s)
        outcomes: dict[int, RequestOutcome] = {}
        newest: dict[str, RequestView] = {}
        for request in requests:  # oldest first
            if now - request.received_at > max_age:
                outcomes[request.id] = RequestOutcome.REJECTED
                continue
            previous = newest.get(request.host)
            if previous is not None:
                outcomes[previous.id] = RequestOutcome.REJECTED
            newest[request.host] = request
        return outcomes, list(newest.values())

    def _feasible(self, solution: Solution, snapshot: ClusterSnapshot) -> Solution:
        """Drop sleeps of hosts without power control and of hosts in maintenance."""
        maintenance = {h.host_id for h in snapshot.hosts if h.maintenance}
        keep = tuple(
            h for h in solution.sleep if h not in maintenance and self.context.power.can_control(h)
        )
        return solution if keep == solution.sleep else replace(solution, sleep=keep)

    def prune_samples(self) -> int:
        """Delete samples older than the retention period; returns how many went."""
        context = self.context
        cutoff = context.now() - timedelta(seconds=context.config.sample_retention_s)
        deleted = context.store.run(delete_samples_before, cutoff, keep_last=SAMPLES_KEPT_PER_OWNER)
        if deleted:
            logger.info("deleted %d samples older than %s", deleted, cutoff.isoformat())
        return deleted


def _hosts(requests: list[RequestView]) -> str:
    return ", ".join(sorted({r.host for r in requests}))


def _hosts_to_drain(snapshot: ClusterSnapshot) -> list[str]:
    occupied = {vm.host_id for vm in snapshot.vms}
    return sorted(h.host_id for h in snapshot.hosts if h.maintenance and h.host_id in occupied)
