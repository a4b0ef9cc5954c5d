"""Starting, watching and stopping the lab's processes.

A process started by this launcher is a child of the current command; by default it
is untied, so it keeps running after the command ends (``fleetwise lab up``). Tied
children (``fleetwise demo``) get SIGTERM if the command dies. Later commands know
the processes only by their recorded pid and start time (see :mod:`fleetwise.lab.pids`);
children of this command are also watched through their handles, which tell their
exit statuses.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from pathlib import Path

from fleetwise.demo.processes import DEFAULT_GRACE_S, ManagedProcess
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.pids import alive, identify, send_signal
from fleetwise.lab.record import LabProcess

__all__ = ["KILL_WAIT_S", "Launcher"]

KILL_WAIT_S = 10.0
"""Seconds to wait for a process to vanish after SIGKILL."""


class Launcher:
    """Starts the lab's processes (tied to this command or not) and tells which run."""

    def __init__(self, paths: LabPaths, *, tied: bool = False) -> None:
        self.paths = paths
        self.tied = tied
        self._children: dict[int, ManagedProcess] = {}
        self._log_sizes: dict[str, int] = {}

    def start(self, process: LabProcess) -> LabProcess:
        """Start ``process``; the same process with the identity of this start."""
        log = self.paths.root / process.log
        self._log_sizes[process.name] = _size(log)
        child = ManagedProcess(process.name, process.command, log, tied=self.tied)
        child.start()
        assert child.pid is not None
        self._children[child.pid] = child
        identity = identify(child.pid)
        return process.model_copy(
            update={
                "pid": identity.pid,
                "start_ticks": identity.start_ticks,
                "started_at": time.time(),
            }
        )

    def alive(self, process: LabProcess) -> bool:
        """Whether ``process`` (as last started) still runs."""
        identity = process.identity
        if identity is None:
            return False
        child = self._children.get(identity.pid)
        if child is not None:
            return child.running()  # also reaps it once it has exited
        return alive(identity)

    def has_logged(self, process: LabProcess) -> bool:
        """Whether ``process``, started by this launcher, has written to its log since."""
        before = self._log_sizes.get(process.name)
        return before is not None and _size(self.paths.root / process.log) > before

    def exit_status(self, process: LabProcess) -> int | None:
        """The exit status of ``process`` if this launcher started it and it has exited."""
        child = None if process.pid is None else self._children.get(process.pid)
        return None if child is None else child.returncode

    def kill(self, process: LabProcess) -> None:
        """SIGKILL ``process`` and wait until it is gone."""
        self.stop([process], grace_s=0.0)

    def stop(
        self, processes: Sequence[LabProcess], grace_s: float = DEFAULT_GRACE_S
    ) -> dict[str, int | None]:
        """SIGTERM ``processes`` (SIGKILL with no grace), SIGKILL those still running after
        ``grace_s``; the exit statuses of those this launcher started (others: None)."""
        first = signal.SIGTERM if grace_s > 0 else signal.SIGKILL
        running = [p for p in processes if self._signal(p, first)]
        left = self._wait_gone(running, grace_s)
        for process in left:
            self._signal(process, signal.SIGKILL)
        self._wait_gone(left, KILL_WAIT_S)
        return {p.name: self.exit_status(p) for p in running}

    def _signal(self, process: LabProcess, signum: int) -> bool:
        identity = process.identity
        return identity is not None and self.alive(process) and send_signal(identity, signum)

    def _wait_gone(self, processes: Sequence[LabProcess], timeout_s: float) -> list[LabProcess]:
        deadline = time.monotonic() + timeout_s
        while True:
            running = [p for p in processes if self.alive(p)]
            if not running or time.monotonic() >= deadline:
                return running
            time.sleep(0.05)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
