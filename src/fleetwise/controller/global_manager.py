"""The global manager service: planning rounds and sample retention, as periodic tasks.

Each task calls one use case (:mod:`.usecases.rounds`); the round's rules live in
the decision core (:func:`fleetwise.core.round.plan_round`).
"""

from __future__ import annotations

from typing import Any

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases import rounds
from fleetwise.core.round import RoundDecision
from fleetwise.service import Manager
from fleetwise.store.views import PlanView

__all__ = ["GlobalManagerService"]


class GlobalManagerService(Manager):
    """Runs planning rounds every ``plan_round_spacing_s`` and prunes old samples."""

    def __init__(self, context: ControllerContext, **kwargs: Any) -> None:
        super().__init__(context.clock, **kwargs)
        self.context = context
        config = context.config
        self.last_decision: RoundDecision | None = None
        self.add_periodic_task(
            self.plan_round, spacing=config.plan_round_spacing_s, name="plan_round"
        )
        self.add_periodic_task(
            self.prune_samples, spacing=config.retention_spacing_s, name="prune_samples"
        )

    def plan_round(self) -> PlanView | None:
        """One round; returns the new plan, if any."""
        result = rounds.run_round(self.context)
        self.last_decision = result.decision
        return result.plan

    def prune_samples(self) -> int:
        """Delete samples older than the retention period; returns how many went."""
        return rounds.prune_samples(self.context)
