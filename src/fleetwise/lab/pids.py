"""Processes known by pid alone, as the lab's commands see the processes an earlier one started.

A pid is recorded with the kernel's start time of its process (``/proc/PID/stat``), so a
pid the system has since given to another process is never taken for the lab's, let
alone signalled. A process that has exited but not yet been reaped (a zombie) counts as
gone. Signals go through a pidfd where the system has them, so that the process checked
is the process signalled.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessId", "alive", "identify", "send_signal"]

_PROC = Path("/proc")
_STATE = 0  # index of the state field after the command name in /proc/PID/stat
_START_TIME = 19  # index of the start time (field 22) after the command name


@dataclass(frozen=True)
class ProcessId:
    """A pid and the start time of its process (None where ``/proc`` is missing)."""

    pid: int
    start_ticks: int | None = None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None if there is none."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def identify(pid: int) -> ProcessId:
    """The identity of the running process ``pid``."""
    if not _PROC.is_dir():
        return ProcessId(pid)
    fields = _stat_fields(pid)
    return ProcessId(pid, None if fields is None else int(fields[_START_TIME]))


def alive(process: ProcessId) -> bool:
    """Whether ``process`` still runs (not exited, not a zombie, its pid not reused)."""
    if not _PROC.is_dir():
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _stat_fields(process.pid)
    if fields is None or fields[_STATE] in ("Z", "X", "x"):
        return False
    return process.start_ticks is None or int(fields[_START_TIME]) == process.start_ticks


@contextmanager
def _pidfd(pid: int) -> Iterator[int | None]:
    """A pidfd of ``pid`` (None where the system has none), closed afterwards."""
    try:
        descriptor = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def send_signal(process: ProcessId, signum: int) -> bool:
    """Send ``signum`` to ``process`` if it still runs; whether it did."""
    with _pidfd(process.pid) as descriptor:
        if not alive(process):
            return False
        try:
            if descriptor is not None:
                signal.pidfd_send_signal(descriptor, signum)
            else:
                os.kill(process.pid, signum)
        except ProcessLookupError:
            return False
        return True
