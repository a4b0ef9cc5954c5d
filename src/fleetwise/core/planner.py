"""Turn a :class:`~fleetwise.core.global_manager.Solution` into an ordered action plan.

Wake-ups come first, then migrations (those into hosts that also send VMs away
last), then sleeps. :func:`dependencies` says which earlier actions each one waits
for, and is the one rule both the planner and the executor follow:

* a migration waits for the wake-up of its destination, if any, and for the
  migrations away from its destination listed before it (VMs leaving a host free
  its room before others arrive);
* a host's sleep waits for every migration away from it;
* a wake-up waits for nothing.

Actions are numbered in order and only ever wait for earlier ones, so a plan has no
cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetwise.core.global_manager import Solution
from fleetwise.core.lifecycle import ActionKind

__all__ = ["PlannedAction", "build_plan", "dependencies"]


@dataclass(frozen=True)
class PlannedAction:
    """One step of a plan; ``host_id`` is the host woken or put to sleep, or the
    migration's source."""

    seq: int
    kind: ActionKind
    host_id: str
    vm_id: str | None = None
    destination: str | None = None
    depends_on: tuple[int, ...] = ()


def dependencies(actions: Sequence[PlannedAction]) -> dict[int, tuple[int, ...]]:
    """``seq`` of each action → the ``seq`` of the earlier actions it waits for."""
    wakes: dict[str, list[int]] = {}
    leaving: dict[str, list[int]] = {}
    out: dict[int, tuple[int, ...]] = {}
    for action in sorted(actions, key=lambda a: a.seq):
        deps: list[int] = []
        if action.kind is ActionKind.WAKE:
            wakes.setdefault(action.host_id, []).append(action.seq)
        elif action.kind is ActionKind.MIGRATE:
            assert action.destination is not None
            deps = wakes.get(action.destination, []) + leaving.get(action.destination, [])
            leaving.setdefault(action.host_id, []).append(action.seq)
        else:
            deps = list(leaving.get(action.host_id, ()))
        out[action.seq] = tuple(deps)
    return out


def build_plan(solution: Solution) -> tuple[PlannedAction, ...]:
    """Order the solution's actions and record their dependencies."""
    steps: list[PlannedAction] = []
    for host in solution.wake:
        steps.append(PlannedAction(len(steps), ActionKind.WAKE, host))
    sources = {m.source for m in solution.migrations}
    for m in sorted(solution.migrations, key=lambda m: m.destination in sources):
        steps.append(
            PlannedAction(len(steps), ActionKind.MIGRATE, m.source, m.vm_id, m.destination)
        )
    for host in solution.sleep:
        steps.append(PlannedAction(len(steps), ActionKind.SLEEP, host))
    deps = dependencies(steps)
    return tuple(
        PlannedAction(a.seq, a.kind, a.host_id, a.vm_id, a.destination, deps[a.seq]) for a in steps
    )
