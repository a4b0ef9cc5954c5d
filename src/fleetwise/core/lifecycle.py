"""Life cycles of plans, actions and host power, as transition tables.

Every rule about which state may follow which lives in this module, as data.
:func:`advance` is the only way to compute a next state: it returns the target if
the edge exists and otherwise raises :class:`IllegalTransition`, changing nothing.

Plans and actions only move forward and end in a terminal state::

    plan:    recommended ─► pending ─► ongoing ─► succeeded | failed | cancelled
             recommended, pending ─► cancelled | superseded

    action:  pending ─► ongoing ─► succeeded | failed | cancelled
             pending ─► skipped | cancelled

Host power is a cycle, walked only along its edges; a sleep or wake-up that does
not happen returns the host to the state it came from::

    active ─► going_to_sleep ─► asleep ─► waking ─► active
              going_to_sleep ─► active     waking ─► asleep

Maintenance is a flag on the host, independent of its power state.

Plans and their actions are coupled; :func:`settle` applies the coupling rules until
nothing changes (:data:`COUPLING_RULES` lists them), and :func:`move_plan` and
:func:`move_action` compute a change with all its consequences. The store writes the
resulting difference and decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum, auto
from types import MappingProxyType
from typing import Any, TypeVar

from fleetwise.errors import InputError

__all__ = [
    "COUPLING_RULES",
    "ActionKind",
    "ActionState",
    "HostPowerState",
    "IllegalTransition",
    "MigrationOutcome",
    "PlanMode",
    "PlanState",
    "PlanStatus",
    "VmState",
    "advance",
    "after_failed_attempt",
    "allowed_targets",
    "edges",
    "initial_plan_state",
    "is_terminal",
    "move_action",
    "move_plan",
    "plan_outcome",
    "settle",
]


class PlanState(StrEnum):
    """Where an action plan stands."""

    RECOMMENDED = auto()
    PENDING = auto()
    ONGOING = auto()
    SUCCEEDED = auto()
    FAILED = auto()
    CANCELLED = auto()
    SUPERSEDED = auto()


class ActionState(StrEnum):
    """Where one action of a plan stands."""

    PENDING = auto()
    ONGOING = auto()
    SUCCEEDED = auto()
    FAILED = auto()
    SKIPPED = auto()
    CANCELLED = auto()


class HostPowerState(StrEnum):
    """Power state of a host as the controller knows it."""

    ACTIVE = auto()
    GOING_TO_SLEEP = auto()
    ASLEEP = auto()
    WAKING = auto()


class VmState(StrEnum):
    """A VM's state as last reported by its hypervisor (an observation, not a life cycle).

    ``MIGRATING`` marks an incoming copy that is not running yet; ``MISSING`` marks a
    VM its host stopped reporting.
    """

    RUNNING = auto()
    PAUSED = auto()
    SHUTOFF = auto()
    CRASHED = auto()
    MIGRATING = auto()
    MISSING = auto()


class MigrationOutcome(StrEnum):
    """How a live migration ended. Unless SUCCEEDED the VM was still on its source when
    the attempt ended; UNKNOWN when neither end could tell (a host died meanwhile)."""

    SUCCEEDED = auto()
    FAILED = auto()
    TIMED_OUT = auto()
    UNKNOWN = auto()


class PlanMode(StrEnum):
    """Whether a plan runs at once or waits for an operator's approval."""

    AUTOMATIC = auto()
    RECOMMEND = auto()


class ActionKind(StrEnum):
    """What an action does: move a VM, wake a host or put a host to sleep."""

    MIGRATE = auto()
    WAKE = auto()
    SLEEP = auto()


State = TypeVar("State", PlanState, ActionState, HostPowerState)

_P = PlanState
_A = ActionState
_H = HostPowerState

_PLAN_EDGES: Mapping[PlanState, frozenset[PlanState]] = MappingProxyType(
    {
        _P.RECOMMENDED: frozenset({_P.PENDING, _P.CANCELLED, _P.SUPERSEDED}),
        _P.PENDING: frozenset({_P.ONGOING, _P.CANCELLED, _P.SUPERSEDED}),
        _P.ONGOING: frozenset({_P.SUCCEEDED, _P.FAILED, _P.CANCELLED}),
        _P.SUCCEEDED: frozenset(),
        _P.FAILED: frozenset(),
        _P.CANCELLED: frozenset(),
        _P.SUPERSEDED: frozenset(),
    }
)

_ACTION_EDGES: Mapping[ActionState, frozenset[ActionState]] = MappingProxyType(
    {
        _A.PENDING: frozenset({_A.ONGOING, _A.SKIPPED, _A.CANCELLED}),
        _A.ONGOING: frozenset({_A.SUCCEEDED, _A.FAILED, _A.CANCELLED}),
        _A.SUCCEEDED: frozenset(),
        _A.FAILED: frozenset(),
        _A.SKIPPED: frozenset(),
        _A.CANCELLED: frozenset(),
    }
)

_HOST_POWER_EDGES: Mapping[HostPowerState, frozenset[HostPowerState]] = MappingProxyType(
    {
        _H.ACTIVE: frozenset({_H.GOING_TO_SLEEP}),
        _H.GOING_TO_SLEEP: frozenset({_H.ASLEEP, _H.ACTIVE}),
        _H.ASLEEP: frozenset({_H.WAKING}),
        _H.WAKING: frozenset({_H.ACTIVE, _H.ASLEEP}),
    }
)

_TABLES: Mapping[type, Mapping[Any, frozenset[Any]]] = MappingProxyType(
    {PlanState: _PLAN_EDGES, ActionState: _ACTION_EDGES, HostPowerState: _HOST_POWER_EDGES}
)

_LABELS: Mapping[type, str] = MappingProxyType(
    {PlanState: "plan", ActionState: "action", HostPowerState: "host power"}
)


class IllegalTransition(InputError):  # noqa: N818 - the name reads as the event it reports
    """A requested state change is not an edge of its life cycle."""

    def __init__(
        self,
        current: PlanState | ActionState | HostPowerState,
        target: object,
        reason: str | None = None,
    ) -> None:
        self.current = current
        self.target = target
        label = _LABELS[type(current)]
        if reason is not None:
            detail = reason
        elif type(target) is not type(current):
            detail = f"expected a {label} state, got {target!r}"
        else:
            allowed = ", ".join(sorted(_targets(current))) or "none, it is final"
            detail = f"allowed next states: {allowed}"
        shown = target.value if isinstance(target, StrEnum) else repr(target)
        super().__init__(f"{label} state cannot move from {current.value!r} to {shown!r}; {detail}")


def _targets(state: StrEnum) -> frozenset[Any]:
    return _TABLES[type(state)][state]


def allowed_targets(current: State) -> frozenset[State]:
    """The states that may directly follow ``current``."""
    return _targets(current)


def advance(current: State, target: State) -> State:
    """Return ``target`` if the life cycle allows ``current → target``; raise otherwise."""
    if type(target) is not type(current) or target not in allowed_targets(current):
        raise IllegalTransition(current, target)
    return target


def is_terminal(state: PlanState | ActionState) -> bool:
    """Whether nothing may follow ``state`` (host power states are never terminal)."""
    return not _targets(state)


def edges(kind: type[State]) -> tuple[tuple[State, State], ...]:
    """Every edge of one life cycle, in declaration order (for docs and diagrams)."""
    return tuple((src, dst) for src in kind for dst in kind if dst in allowed_targets(src))


def initial_plan_state(mode: PlanMode) -> PlanState:
    """A new plan waits for approval in recommend mode and is pending otherwise."""
    return PlanState.RECOMMENDED if mode is PlanMode.RECOMMEND else PlanState.PENDING


def after_failed_attempt(attempts: int, max_attempts: int) -> ActionState:
    """State of an action whose attempt number ``attempts`` just failed.

    It stays ONGOING while attempts remain (the executor retries it) and is FAILED
    once ``max_attempts`` have been used.
    """
    if attempts < 1 or max_attempts < 1:
        raise InputError(
            f"attempt counts must be positive (attempts={attempts}, max_attempts={max_attempts})"
        )
    return ActionState.ONGOING if attempts < max_attempts else ActionState.FAILED


def plan_outcome(action_states: Iterable[ActionState]) -> PlanState | None:
    """Final state of an ONGOING plan given its actions, or None while any is unfinished.

    A plan fails if any action failed, is cancelled if any was cancelled (and none
    failed), and succeeds when every action succeeded or was skipped.
    """
    states = tuple(action_states)
    if not all(is_terminal(s) for s in states):
        return None
    if ActionState.FAILED in states:
        return PlanState.FAILED
    if ActionState.CANCELLED in states:
        return PlanState.CANCELLED
    return PlanState.SUCCEEDED


@dataclass(frozen=True)
class PlanStatus:
    """A plan's state and the states of its actions, by action key."""

    state: PlanState
    actions: Mapping[int, ActionState]


_CLOSING = frozenset({PlanState.FAILED, PlanState.CANCELLED, PlanState.SUPERSEDED})

COUPLING_RULES: tuple[str, ...] = (
    "an ongoing plan fails as soon as one of its actions fails",
    "a plan that fails, is cancelled or superseded cancels its actions that have not started",
    "an ongoing plan ends when its last action finishes: succeeded if every action "
    "succeeded or was skipped, otherwise failed or cancelled (see plan_outcome)",
    "an action starts only while its plan is ongoing",
    "an action is skipped or cancelled only while its plan is not finished",
    "a plan succeeds only when all its actions succeeded or were skipped",
)
"""The rules tying plans and actions together, in words (for the docs)."""


def settle(status: PlanStatus) -> PlanStatus:
    """Apply the coupling rules until nothing changes."""
    while True:
        state, actions = status.state, dict(status.actions)
        if state is PlanState.ONGOING and ActionState.FAILED in actions.values():
            state = advance(state, PlanState.FAILED)
        if state in _CLOSING:
            for key, action in actions.items():
                if action is ActionState.PENDING:
                    actions[key] = advance(action, ActionState.CANCELLED)
        if state is PlanState.ONGOING and actions:
            outcome = plan_outcome(actions.values())
            if outcome is not None:
                state = advance(state, outcome)
        settled = PlanStatus(state, actions)
        if settled == status:
            return status
        status = settled


def move_plan(status: PlanStatus, target: PlanState) -> PlanStatus:
    """The plan moved to ``target``, with every consequence; raises if it may not."""
    advance(status.state, target)
    if target is PlanState.SUCCEEDED and plan_outcome(status.actions.values()) is not target:
        raise IllegalTransition(
            status.state, target, "it may succeed only once every action succeeded or was skipped"
        )
    return settle(replace(status, state=target))


def move_action(status: PlanStatus, key: int, target: ActionState) -> PlanStatus:
    """Action ``key`` moved to ``target``, with every consequence; raises if it may not."""
    current = status.actions[key]
    advance(current, target)
    if target is ActionState.ONGOING and status.state is not PlanState.ONGOING:
        raise IllegalTransition(
            current, target, f"an action starts only in an ongoing plan (it is {status.state})"
        )
    if target in (ActionState.SKIPPED, ActionState.CANCELLED) and is_terminal(status.state):
        raise IllegalTransition(current, target, f"its plan is already {status.state}")
    return settle(replace(status, actions={**status.actions, key: target}))
