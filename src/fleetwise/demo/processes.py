"""Child processes of a local cluster: started with their output in log files, always stopped.

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches only the
parent, which then stops the children in order. Stopping sends SIGTERM, waits, and
kills what is still running after the grace period. On Linux a *tied* child (the
default) also gets SIGTERM when the thread that started it ends without stopping it
(even when the whole parent is killed), so none is left running on its own: start
children from a thread that outlives them, such as the main thread. An untied child
outlives its parent (the lab's background processes).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fleetwise.errors import DriverError

__all__ = ["DEFAULT_GRACE_S", "ManagedProcess", "ProcessGroup", "fleetwise_command"]

logger = logging.getLogger(__name__)

DEFAULT_GRACE_S = 20.0
"""Seconds a child gets to stop after SIGTERM before it is killed."""


_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook making the child receive SIGTERM when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


_PRE_EXEC = _parent_death_signal()


def fleetwise_command(*args: str) -> list[str]:
    """The command line running ``fleetwise ARGS`` with this interpreter."""
    return [sys.executable, "-m", "fleetwise", *args]


@dataclass
class ManagedProcess:
    """One child process whose stdout and stderr go to ``log_path``; ``tied``: it stops
    when the thread that started it ends."""

    name: str
    command: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    tied: bool = True
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def start(self) -> None:
        """Start the process (once)."""
        if self.popen is not None:
            raise DriverError(f"process {self.name} was already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self.popen = subprocess.Popen(
                list(self.command),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_PRE_EXEC if self.tied else None,  # noqa: PLW1509 (only prctl)
            )
        except OSError as exc:
            self._close_log()
            raise DriverError(f"cannot start {self.name}: {exc.strerror or exc}") from exc
        logger.debug("started %s (pid %d)", self.name, self.popen.pid)

    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal(self, signum: int) -> None:
        """Send ``signum`` if the process still runs."""
        if self.running():
            assert self.popen is not None
            with suppress(ProcessLookupError):
                self.popen.send_signal(signum)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to exit; True if it did."""
        if self.popen is None:
            return True
        try:
            self.popen.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return False
        self._close_log()
        return True

    def kill(self) -> None:
        """SIGKILL the process (no clean-up happens in it) and reap it."""
        self.signal(signal.SIGKILL)
        self.wait(10.0)

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> int | None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; returns the exit status."""
        self.signal(signal.SIGTERM)
        if not self.wait(grace_s):
            logger.warning("%s did not stop within %.0f s; killing it", self.name, grace_s)
            self.kill()
        self._close_log()
        return self.returncode

    def log_text(self) -> str:
        """What the process has written so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class ProcessGroup:
    """Processes started together and stopped together (in reverse order of start)."""

    def __init__(self) -> None:
        self._processes: list[ManagedProcess] = []

    def __iter__(self) -> Iterator[ManagedProcess]:
        return iter(list(self._processes))

    def __len__(self) -> int:
        return len(self._processes)

    def get(self, name: str) -> ManagedProcess:
        """The process called ``name``."""
        for process in self._processes:
            if process.name == name:
                return process
        raise KeyError(name)

    def start(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        """Start a new member (a stopped one of the same name is replaced)."""
        self._processes = [p for p in self._processes if p.name != name or p.running()]
        if any(p.name == name for p in self._processes):
            raise DriverError(f"process {name} is already running")
        process = ManagedProcess(name, command, log_path, env)
        self._processes.append(process)
        process.start()
        return process

    def stop(
        self, names: Iterable[str] | None = None, grace_s: float = DEFAULT_GRACE_S
    ) -> dict[str, int | None]:
        """Stop the named members (default: all) together; returns their exit statuses."""
        wanted = None if names is None else set(names)
        chosen = [p for p in reversed(self._processes) if wanted is None or p.name in wanted]
        for process in chosen:
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in chosen:
            if not process.wait(deadline - time.monotonic()):
                logger.warning("%s did not stop within %.0f s; killing it", process.name, grace_s)
                process.kill()
        return {p.name: p.returncode for p in chosen}

    def running(self) -> list[ManagedProcess]:
        """Members still running."""
        return [p for p in self._processes if p.running()]

    def exited(self) -> list[ManagedProcess]:
        """Members that were started and have exited."""
        return [p for p in self._processes if p.popen is not None and not p.running()]
