"""The persisted record of the migrations this agent ran, keyed by action id.

An action is written down as RUNNING before its migration starts and as DONE (with
its outcome) when it ends, then marked reported once the controller has the result.
A RUNNING entry found at start-up belongs to an agent that stopped mid-migration; it
is INTERRUPTED until the VM's location says how it ended.
"""

from __future__ import annotations

import threading
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fleetwise.agent.persist import JsonFile

__all__ = ["ActionEntry", "ActionJournal", "ActionStatus", "JournalState"]

KEEP_FINISHED = 500
"""Reported entries kept (newest first) to recognise re-sent assignments."""


class ActionStatus(StrEnum):
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    DONE = "done"


class ActionEntry(BaseModel):
    """One migration action as far as this agent knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: int
    vm_uuid: str
    destination: str
    status: ActionStatus
    ok: bool | None = None
    error: str = ""
    reported: bool = False
    seq: int = 0


class JournalState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actions: dict[int, ActionEntry] = Field(default_factory=dict)
    seq: int = 0


class ActionJournal:
    """Thread-safe: migrations end in worker threads."""

    def __init__(self, file: JsonFile[JournalState]) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._state = file.load(JournalState())
        for action_id, entry in list(self._state.actions.items()):
            if entry.status is ActionStatus.RUNNING:
                self._state.actions[action_id] = entry.model_copy(
                    update={"status": ActionStatus.INTERRUPTED}
                )
        self._file.save(self._state)

    def get(self, action_id: int) -> ActionEntry | None:
        with self._lock:
            return self._state.actions.get(action_id)

    def entries(self) -> list[ActionEntry]:
        with self._lock:
            return sorted(self._state.actions.values(), key=lambda e: e.seq)

    def _put(self, entry: ActionEntry) -> None:
        self._state.actions[entry.action_id] = entry
        finished = [
            e for e in self._state.actions.values() if e.status is ActionStatus.DONE and e.reported
        ]
        if len(finished) > KEEP_FINISHED:
            finished.sort(key=lambda e: e.seq)
            for old in finished[: len(finished) - KEEP_FINISHED]:
                del self._state.actions[old.action_id]
        self._file.save(self._state)

    def start(self, action_id: int, vm_uuid: str, destination: str) -> None:
        """Write the action down as RUNNING (before the migration begins)."""
        with self._lock:
            self._state.seq += 1
            self._put(
                ActionEntry(
                    action_id=action_id,
                    vm_uuid=vm_uuid,
                    destination=destination,
                    status=ActionStatus.RUNNING,
                    seq=self._state.seq,
                )
            )

    def finish(self, action_id: int, ok: bool, error: str = "") -> None:
        """Record the outcome; the result is to be reported."""
        with self._lock:
            entry = self._state.actions[action_id]
            self._put(
                entry.model_copy(
                    update={
                        "status": ActionStatus.DONE,
                        "ok": ok,
                        "error": error,
                        "reported": False,
                    }
                )
            )

    def mark_reported(self, action_id: int) -> None:
        """The controller has the result."""
        with self._lock:
            entry = self._state.actions.get(action_id)
            if entry is not None:
                self._put(entry.model_copy(update={"reported": True}))
