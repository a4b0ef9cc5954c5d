"""Rules for carrying a plan out, shared by the controller's executor and the simulator.

* :func:`startable` and :class:`Readiness`: which pending actions may start, given
  what they wait for (see :func:`~fleetwise.core.planner.dependencies`).
* :class:`MigrationSlots`: migrations run within caps, in total, out of one host and
  into one host.
* :func:`migration_end`: how a migration whose agent sent no result ended, from the
  agents' reports, or UNKNOWN once an end host has been silent too long.
* :func:`sleep_blocker`: whether a host may be put to sleep now. A plan's sleep was
  right when it was planned; by the time its turn comes the host may hold a VM again,
  be needed as a spare, or have lost its power control.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from fleetwise.core.lifecycle import ActionState, HostPowerState, MigrationOutcome, VmState
from fleetwise.core.round import FleetObservation, unavailability, unreachable

__all__ = [
    "MigrationCaps",
    "MigrationSlots",
    "Readiness",
    "RunningMigration",
    "arrived",
    "migration_end",
    "sleep_blocker",
    "startable",
]

_DONE = frozenset({ActionState.SUCCEEDED, ActionState.SKIPPED})
"""Final states that let what waits for an action start."""


class MigrationCaps(BaseModel):
    """How many migrations may run at once: in total, out of one host, into one host."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: int = Field(default=4, ge=1)
    per_source: int = Field(default=1, ge=1)
    per_destination: int = Field(default=2, ge=1)


class MigrationSlots:
    """Counts running migrations and grants new ones only within the caps."""

    def __init__(self, caps: MigrationCaps, running: Iterable[tuple[str, str]] = ()) -> None:
        self._caps = caps
        self._total = 0
        self._out: Counter[str] = Counter()
        self._in: Counter[str] = Counter()
        for source, destination in running:
            self._add(source, destination)

    def _add(self, source: str, destination: str) -> None:
        self._total += 1
        self._out[source] += 1
        self._in[destination] += 1

    def can_start(self, source: str, destination: str) -> bool:
        """Whether one more migration from ``source`` to ``destination`` fits the caps."""
        return (
            self._total < self._caps.total
            and self._out[source] < self._caps.per_source
            and self._in[destination] < self._caps.per_destination
        )

    @property
    def exhausted(self) -> bool:
        """Whether no migration at all may start now (the total cap is reached)."""
        return self._total >= self._caps.total

    def take(self, source: str, destination: str) -> bool:
        """Book a slot if one is free; returns whether it was booked."""
        if not self.can_start(source, destination):
            return False
        self._add(source, destination)
        return True

    def release(self, source: str, destination: str) -> None:
        """Give back a slot (a booked migration did not start, or one ended)."""
        if self._out[source] < 1 or self._in[destination] < 1:
            raise ValueError(f"no migration from {source} to {destination} is booked")
        self._total -= 1
        self._out[source] -= 1
        self._in[destination] -= 1


class Readiness:
    """Which pending actions may start, kept up to date as actions change state.

    An action may start when it is PENDING and every action it waits for succeeded or
    was skipped; one whose dependency failed or was cancelled never starts (that ends
    its plan). :meth:`update` costs a few steps per change, so a shell that follows a
    plan step by step need not rescan it.
    """

    def __init__(
        self, states: Mapping[int, ActionState], waits_for: Mapping[int, tuple[int, ...]]
    ) -> None:
        self._states = dict(states)
        self._blockers = {
            key: {d for d in waits_for.get(key, ()) if states[d] not in _DONE} for key in states
        }
        self._dependents: dict[int, list[int]] = {}
        for key in states:
            for dependency in dict.fromkeys(waits_for.get(key, ())):  # each once
                self._dependents.setdefault(dependency, []).append(key)
        self._ready = sorted(
            key
            for key, state in states.items()
            if state is ActionState.PENDING and not self._blockers[key]
        )

    def ready(self) -> list[int]:
        """The actions that may start now, in plan order."""
        return list(self._ready)

    def update(self, key: int, state: ActionState) -> None:
        """Action ``key`` is now in ``state``."""
        self._states[key] = state
        if state is not ActionState.PENDING:
            position = bisect.bisect_left(self._ready, key)
            if position < len(self._ready) and self._ready[position] == key:
                del self._ready[position]
        if state in _DONE:
            for waiting in self._dependents.get(key, ()):
                blockers = self._blockers[waiting]
                blockers.discard(key)
                if not blockers and self._states[waiting] is ActionState.PENDING:
                    bisect.insort(self._ready, waiting)


def startable(
    states: Mapping[int, ActionState], waits_for: Mapping[int, tuple[int, ...]]
) -> list[int]:
    """The PENDING actions (in order) whose every dependency succeeded or was skipped
    (see :class:`Readiness`)."""
    return Readiness(states, waits_for).ready()


def sleep_blocker(
    host_id: str, observation: FleetObservation, *, spare_hosts: int, heartbeat_timeout_s: float
) -> str | None:
    """Why ``host_id`` must not go to sleep now, or None if it may.

    It must be active, have power control, not be in maintenance, hold no VM and take
    part in no migration, and at least ``spare_hosts`` other empty hosts must stay
    awake (active, reachable, not in maintenance).
    """
    hosts = {h.host_id: h for h in observation.hosts}
    host = hosts.get(host_id)
    if host is None or host.power is not HostPowerState.ACTIVE:
        return f"host {host_id} is not awake"
    if not host.power_control:
        return f"host {host_id} has no power control"
    if unreachable(host, observation.now_s, heartbeat_timeout_s):
        return f"host {host_id} is unreachable"
    if host.maintenance:
        return f"host {host_id} is in maintenance"
    counts: dict[str, int] = {}
    for vm_host in observation.vms.host_ids:
        if vm_host is not None:
            counts[vm_host] = counts.get(vm_host, 0) + 1
    if counts.get(host_id, 0):
        return f"host {host_id} still has {counts[host_id]} VMs"
    if any(host_id in (m.source, m.destination) for m in observation.migrations):
        return f"host {host_id} takes part in a running migration"
    spares = sum(
        1
        for h in observation.hosts
        if h.host_id != host_id
        and h.power is HostPowerState.ACTIVE
        and not h.maintenance
        and not counts.get(h.host_id, 0)
        and unavailability(h, observation.now_s, heartbeat_timeout_s) is None
    )
    if spares < spare_hosts:
        return f"host {host_id} is kept awake as a spare ({spares} of {spare_hosts} spares awake)"
    return None


@dataclass(frozen=True)
class RunningMigration:
    """What the executor knows of a migration under way, times in seconds on one base.

    ``vm_host`` is where the VM was last reported (None if no host reports it),
    ``vm_state`` what that host reported, and ``vm_located_s``/``vm_reported_s`` when
    that location and report were made.
    """

    source: str
    destination: str
    started_s: float
    vm_host: str | None
    vm_state: VmState
    vm_located_s: float | None
    vm_reported_s: float
    source_heard_s: float | None
    destination_heard_s: float | None


def arrived(migration: RunningMigration) -> bool:
    """Whether the destination reported the VM running since the migration started."""
    m = migration
    return (
        m.vm_host == m.destination
        and m.vm_state is VmState.RUNNING
        and m.vm_located_s is not None
        and m.vm_located_s >= m.started_s
    )


def migration_end(
    migration: RunningMigration,
    now_s: float,
    *,
    timeout_s: float,
    heartbeat_timeout_s: float,
    grace_s: float,
) -> tuple[MigrationOutcome | None, str]:
    """How a migration whose agent sent no result ended, from what the agents report
    (None while it cannot be told yet), with a sentence saying why.

    * the destination reports the VM running since the attempt started: it succeeded;
    * after the migration timeout the source still reports the VM: it failed;
    * an end host silent longer than the heartbeat timeout plus ``grace_s``: nobody can
      tell, the outcome is UNKNOWN (the caller quarantines both hosts).
    """
    m = migration
    if arrived(m):
        return MigrationOutcome.SUCCEEDED, "the destination reports the VM running"
    deadline = m.started_s + timeout_s
    if (
        now_s > deadline
        and m.vm_host == m.source
        and m.vm_state is not VmState.MIGRATING
        and m.vm_reported_s > deadline
    ):
        return MigrationOutcome.FAILED, (
            f"no result within {timeout_s:g} s and the source still reports the VM"
        )
    for host, heard in ((m.source, m.source_heard_s), (m.destination, m.destination_heard_s)):
        since = m.started_s if heard is None else max(heard, m.started_s)
        silent = now_s - since
        if silent > heartbeat_timeout_s + grace_s:
            return MigrationOutcome.UNKNOWN, (
                f"host {host} has been silent for {silent:.0f} s and no other report tells "
                "where the VM is"
            )
    return None, ""
