"""From the decision core's answer to a plan the store can keep.

:func:`~fleetwise.core.planner.build_plan` orders the actions and lists each one's
dependencies; the store keeps actions in *waves* (wave ``w`` after every earlier
wave), so each action's wave is one more than its latest dependency's. The executor
still follows the exact dependencies (see :mod:`.dependencies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fleetwise.core.global_manager import ClusterSnapshot, ReallocationRequest, Solution
from fleetwise.core.lifecycle import PlanMode
from fleetwise.core.planner import PlannedAction, build_plan
from fleetwise.store.enums import ReallocationReason, RequestOutcome
from fleetwise.store.records import ActionDraft, PlanDraft
from fleetwise.store.views import RequestView

__all__ = ["action_drafts", "core_requests", "draft_plan", "plan_reason", "request_outcomes"]

_REASON_MAX = 255


def core_requests(requests: Sequence[RequestView]) -> tuple[ReallocationRequest, ...]:
    """The stored requests as the decision core takes them."""
    return tuple(
        ReallocationRequest(
            host_id=r.host,
            reason="overload" if r.reason is ReallocationReason.OVERLOAD else "underload",
            vm_ids=r.vm_uuids,
        )
        for r in requests
    )


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


def plan_reason(requests: Sequence[RequestView], drained: Sequence[str]) -> str:
    """A short account of what the plan answers, e.g. ``overload of n1; maintenance of n4``."""
    parts: list[str] = []
    for reason in ("overload", "underload"):
        hosts = sorted({r.host for r in requests if r.reason.value == reason})
        if hosts:
            parts.append(f"{reason} of {', '.join(hosts)}")
    if drained:
        parts.append(f"maintenance of {', '.join(sorted(drained))}")
    text = "; ".join(parts) or "host power"
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def request_outcomes(
    requests: Sequence[RequestView], solution: Solution, snapshot: ClusterSnapshot
) -> dict[int, RequestOutcome]:
    """What the round made of each request it considered.

    PLANNED if VMs leave the host (or it goes to sleep); NOTHING_TO_DO if none of
    the VMs it names (underload: none at all) is on the host any more; otherwise
    NO_PLACEMENT.
    """
    leaving = {m.source for m in solution.migrations}
    on_host: dict[str, set[str]] = {}
    for vm in snapshot.vms:
        on_host.setdefault(vm.host_id, set()).add(vm.vm_id)
    outcomes: dict[int, RequestOutcome] = {}
    for request in requests:
        present = on_host.get(request.host, set())
        if request.reason is ReallocationReason.OVERLOAD:
            present = present & set(request.vm_uuids)
        if request.host in leaving or request.host in solution.sleep:
            outcomes[request.id] = RequestOutcome.PLANNED
        elif not present:
            outcomes[request.id] = RequestOutcome.NOTHING_TO_DO
        else:
            outcomes[request.id] = RequestOutcome.NO_PLACEMENT
    return outcomes


def draft_plan(
    solution: Solution,
    requests: Sequence[RequestView],
    drained: Sequence[str],
    *,
    mode: PlanMode,
    now: datetime,
    expiry_s: float,
    max_attempts: int,
) -> PlanDraft | None:
    """The plan of ``solution`` (None when there is nothing to do)."""
    if solution.empty:
        return None
    single = requests[0] if len(requests) == 1 else None
    return PlanDraft(
        mode=mode,
        reason=plan_reason(requests, drained),
        actions=action_drafts(build_plan(solution), max_attempts),
        expires_at=now + timedelta(seconds=expiry_s),
        source_host=single.host if single is not None else None,
        request_id=single.id if single is not None else None,
    )
