"""Turn a :class:`~fleetwise.core.global_manager.Solution` into an ordered action plan.

Wake-ups come first; a migration depends on the wake-up of its destination (if
any) and on the migrations away from its destination listed before it, so VMs
leaving a host free its room before others arrive; putting a host to sleep depends
on every migration away from it. Migrations into hosts that also send VMs away are
listed after the others. Actions are numbered in that order, and each lists the
numbers it depends on (always earlier ones, so a plan has no cycles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleetwise.core.global_manager import Solution

__all__ = ["PlannedAction", "build_plan"]

ActionKind = Literal["wake", "migrate", "sleep"]


@dataclass(frozen=True)
class PlannedAction:
    seq: int
    kind: ActionKind
    host_id: str  # host woken / put to sleep, or the migration's source
    vm_id: str | None = None
    destination: str | None = None
    depends_on: tuple[int, ...] = ()


def build_plan(solution: Solution) -> tuple[PlannedAction, ...]:
    """Order the solution's actions and record their dependencies."""
    actions: list[PlannedAction] = []
    wake_seq: dict[str, int] = {}
    for host in solution.wake:
        seq = len(actions)
        wake_seq[host] = seq
        actions.append(PlannedAction(seq, "wake", host))
    leaving: dict[str, list[int]] = {}
    sources = {m.source for m in solution.migrations}
    ordered = sorted(solution.migrations, key=lambda m: m.destination in sources)
    for m in ordered:
        seq = len(actions)
        deps = [wake_seq[m.destination]] if m.destination in wake_seq else []
        deps += leaving.get(m.destination, [])
        actions.append(PlannedAction(seq, "migrate", m.source, m.vm_id, m.destination, tuple(deps)))
        leaving.setdefault(m.source, []).append(seq)
    for host in solution.sleep:
        seq = len(actions)
        actions.append(PlannedAction(seq, "sleep", host, depends_on=tuple(leaving.get(host, ()))))
    return tuple(actions)
