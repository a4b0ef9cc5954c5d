"""The open plan of a native run: its actions' states, advanced with the executor's rules."""

from __future__ import annotations

from fleetwise.core.execution import Readiness
from fleetwise.core.lifecycle import ActionState, PlanState, advance, is_terminal, plan_outcome
from fleetwise.core.planner import PlannedAction, dependencies

__all__ = ["PlanRun"]


class PlanRun:
    """One plan being carried out; every state change goes through the life cycle."""

    def __init__(self, actions: tuple[PlannedAction, ...]) -> None:
        self.actions = {a.seq: a for a in actions}
        self.states = dict.fromkeys(self.actions, ActionState.PENDING)
        self._readiness = Readiness(self.states, dependencies(actions))
        self._unfinished = len(actions)

    def ready(self) -> list[PlannedAction]:
        """Pending actions whose dependencies are done, in plan order."""
        return [self.actions[seq] for seq in self._readiness.ready()]

    def move(self, seq: int, target: ActionState) -> None:
        """Move action ``seq`` along its life cycle (raises on an illegal step)."""
        self.states[seq] = advance(self.states[seq], target)
        self._readiness.update(seq, target)
        if is_terminal(target):
            self._unfinished -= 1

    def finish(self, seq: int) -> None:
        """Action ``seq`` succeeded (started first if it was pending)."""
        if self.states[seq] is ActionState.PENDING:
            self.move(seq, ActionState.ONGOING)
        self.move(seq, ActionState.SUCCEEDED)

    @property
    def outcome(self) -> PlanState | None:
        """The plan's final state once every action is finished, else None."""
        return plan_outcome(self.states.values()) if self._unfinished == 0 else None
