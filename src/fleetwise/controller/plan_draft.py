"""From the round's decision to a plan the store can keep.

:func:`~fleetwise.core.planner.build_plan` orders the actions and lists each one's
dependencies; the store keeps actions in *waves* (wave ``w`` after every earlier
wave), so each action's wave is one more than its latest dependency's. The executor
still follows the exact dependencies (see :mod:`.dependencies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fleetwise.core.lifecycle import PlanMode
from fleetwise.core.planner import PlannedAction, build_plan
from fleetwise.core.round import RoundDecision
from fleetwise.store.records import ActionDraft, PlanDraft

__all__ = ["action_drafts", "draft_plan"]

_REASON_MAX = 255


def action_drafts(planned: Sequence[PlannedAction], max_attempts: int) -> tuple[ActionDraft, ...]:
    """Store drafts of ``planned`` in wave order (stable within a wave)."""
    waves: dict[int, int] = {}
    for action in planned:
        waves[action.seq] = 1 + max((waves[d] for d in action.depends_on), default=-1)
    drafts: list[tuple[int, int, ActionDraft]] = []
    for action in planned:
        wave = waves[action.seq]
        if action.kind == "migrate":
            assert action.vm_id is not None and action.destination is not None
            draft = ActionDraft.migrate(
                action.vm_id,
                action.host_id,
                action.destination,
                wave=wave,
                max_attempts=max_attempts,
            )
        elif action.kind == "wake":
            draft = ActionDraft.wake(action.host_id, wave=wave, max_attempts=max_attempts)
        else:
            draft = ActionDraft.sleep(action.host_id, wave=wave, max_attempts=max_attempts)
        drafts.append((wave, action.seq, draft))
    return tuple(d for _, _, d in sorted(drafts, key=lambda item: item[:2]))


def draft_plan(
    decision: RoundDecision,
    *,
    mode: PlanMode,
    now: datetime,
    expiry_s: float,
    max_attempts: int,
) -> PlanDraft | None:
    """The plan of ``decision`` (None when there is nothing to do)."""
    if decision.solution.empty:
        return None
    considered = decision.considered
    single = considered[0] if len(considered) == 1 else None
    reason = decision.reason
    if len(reason) > _REASON_MAX:
        reason = reason[: _REASON_MAX - 1] + "…"
    return PlanDraft(
        mode=mode,
        reason=reason,
        actions=action_drafts(build_plan(decision.solution), max_attempts),
        expires_at=now + timedelta(seconds=expiry_s),
        source_host=single.host_id if single is not None else None,
        request_id=single.request_id if single is not None else None,
        drained=decision.drained,
    )
