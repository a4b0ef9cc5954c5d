"""Which actions of a stored plan must finish before another may start.

The rules are those of :func:`fleetwise.core.planner.build_plan`: a migration waits
for the wake-up of its destination, and a host's sleep waits for every migration
away from it. Wake-ups wait for nothing.
"""

from __future__ import annotations

from fleetwise.core.lifecycle import ActionKind
from fleetwise.store.views import PlanView

__all__ = ["action_dependencies"]


def action_dependencies(plan: PlanView) -> dict[int, tuple[int, ...]]:
    """Action id → ids of the actions of ``plan`` it waits for."""
    wakes: dict[str, list[int]] = {}
    leaving: dict[str, list[int]] = {}
    for action in plan.actions:
        if action.kind is ActionKind.WAKE and action.host is not None:
            wakes.setdefault(action.host, []).append(action.id)
        elif action.kind is ActionKind.MIGRATE and action.source_host is not None:
            leaving.setdefault(action.source_host, []).append(action.id)
    deps: dict[int, tuple[int, ...]] = {}
    for action in plan.actions:
        if action.kind is ActionKind.MIGRATE and action.destination_host is not None:
            deps[action.id] = tuple(wakes.get(action.destination_host, ()))
        elif action.kind is ActionKind.SLEEP and action.host is not None:
            deps[action.id] = tuple(leaving.get(action.host, ()))
        else:
            deps[action.id] = ()
    return deps
