"""Pieces of the end-to-end test on real libvirt: service processes, configs, and waits
whose deadlines follow observed progress.

The lab itself, its daemons and the waits on guests come from ``tests/helpers/libvirt_lab.py``,
shared with the driver tests.

Waits never give up after a fixed total: :func:`follow` fails when a stage uses up its
budget, counted in the progress that should have brought it about (an agent's collections,
requests answered, CPU seconds of a process), or when nothing observable changed for a
while (every process hung). A machine busy with other work makes the same steps slower,
not more numerous.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from fleetwise.lab.patience import Patience
from tests.helpers.libvirt_lab import (
    LAB_PACKAGES,
    Daemon,
    DomainOnHost,
    Lab,
    lab_unavailable,
    running_lab,
    wait_until_idle,
    wait_until_running,
)

__all__ = [
    "LAB_PACKAGES",
    "Budget",
    "Daemon",
    "DomainOnHost",
    "Lab",
    "MachineCpu",
    "Service",
    "Stage",
    "domain_on",
    "follow",
    "free_port",
    "lab_unavailable",
    "running_lab",
    "start_service",
    "wait_until_idle",
    "wait_until_running",
    "write_yaml",
]

S = TypeVar("S")


def domain_on(uri: str, uuid: str) -> DomainOnHost | None:
    """Ask the libvirtd at ``uri`` itself about domain ``uuid``; None when it has no such domain."""
    with Daemon(uri) as daemon:
        return daemon.domain(uuid)


@dataclass(frozen=True)
class MachineCpu:
    """This machine's CPU time counters (jiffies) from ``/proc/stat``."""

    busy: int
    total: int

    @staticmethod
    def read() -> MachineCpu:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return MachineCpu(sum(fields) - idle, sum(fields))

    def busy_fraction_since(self, earlier: MachineCpu) -> float:
        """Share of the machine's CPU time spent busy between ``earlier`` and this reading."""
        elapsed = self.total - earlier.total
        return (self.busy - earlier.busy) / elapsed if elapsed > 0 else 0.0


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as a YAML file; returns ``path``."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Service:
    """A ``fleetwise`` process started by the test, its output going to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_s(self) -> float:
        """CPU seconds the process has used so far (0 once it is gone)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except FileNotFoundError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"--- last lines of {self.name} ({self.log}) ---\n" + "\n".join(text[-lines:])

    def stop(self, timeout_s: float = 45.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit status."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def start_service(name: str, args: list[str], log_dir: Path) -> Service:
    """Run ``python -m fleetwise ARGS`` with stdout and stderr in ``log_dir/NAME.log``."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fleetwise", *args], stdout=out, stderr=subprocess.STDOUT
        )
    return Service(name, process, log)


@dataclass(frozen=True)
class Budget(Generic[S]):
    """At most ``limit`` units of a progress measure may pass while a stage is not reached.

    ``count`` reads the measure from an observation. When ``restart`` is given, a change
    of its value is progress within the stage and counting starts afresh.
    """

    unit: str
    count: Callable[[S], float]
    limit: float
    restart: Callable[[S], Hashable] | None = None


@dataclass(frozen=True)
class Stage(Generic[S]):
    """A step the system must reach, within its budgets; ``verdict`` may end the wait at
    once with a reason (a failed plan, say). ``key`` names its timing."""

    key: str
    name: str
    reached: Callable[[S], bool]
    budgets: tuple[Budget[S], ...]
    verdict: Callable[[S], str | None] = lambda seen: None


class _Spent(Generic[S]):
    """How much of each budget of a stage is used, counted from its start or last restart."""

    def __init__(self, stage: Stage[S], seen: S) -> None:
        self.budgets = stage.budgets
        self.base = [b.count(seen) for b in self.budgets]
        self.marks = [None if b.restart is None else b.restart(seen) for b in self.budgets]

    def overrun(self, seen: S) -> str | None:
        for i, budget in enumerate(self.budgets):
            if budget.restart is not None and budget.restart(seen) != self.marks[i]:
                self.marks[i], self.base[i] = budget.restart(seen), budget.count(seen)
            used = budget.count(seen) - self.base[i]
            if used > budget.limit:
                return f"{used:g} {budget.unit} (at most {budget.limit:g})"
        return None


def follow(
    stages: Sequence[Stage[S]],
    observe: Callable[[], S],
    *,
    progress: Callable[[S], Hashable],
    stall_s: float,
    services: Sequence[Service] = (),
    describe: Callable[[S], str] = lambda seen: "",
    invariant: Callable[[S], str | None] = lambda seen: None,
    every_s: float = 0.5,
) -> dict[str, float]:
    """Observe until every stage is reached, in order; the seconds at which each was, by key.

    Fails with the evidence (what was reached when, ``describe`` of the last observation,
    the services' logs) when an observation breaks the ``invariant``, when a stage overruns
    a budget or gives a verdict, when ``progress`` of the observations did not change for
    ``stall_s`` seconds, or when a service exits.
    """
    start = time.monotonic()
    reached: dict[str, float] = {}
    seen = observe()
    patience = Patience(stall_s)
    patience.saw(progress(seen))
    index, spent = 0, _Spent(stages[0], seen)

    def fail(why: str) -> AssertionError:
        done = [f"{s.name} at {reached[s.key]:.1f} s" for s in stages[:index]]
        logs = "\n".join(s.log_tail() for s in services)
        return AssertionError(
            f"{stages[index].name}: {why}\nreached so far: {', '.join(done) or 'nothing'}\n"
            f"{describe(seen)}\n{logs}"
        )

    while True:
        broken = invariant(seen)
        if broken is not None:
            raise fail(broken)
        while stages[index].reached(seen):
            reached[stages[index].key] = time.monotonic() - start
            index += 1
            if index == len(stages):
                return reached
            spent = _Spent(stages[index], seen)
        gone = [s for s in services if not s.alive()]
        if gone:
            raise fail(f"{gone[0].name} exited ({gone[0].process.returncode})")
        verdict = stages[index].verdict(seen)
        if verdict is not None:
            raise fail(verdict)
        overrun = spent.overrun(seen)
        if overrun is not None:
            raise fail(f"not reached after {overrun}")
        if patience.expired():
            raise fail(f"nothing observable changed for {stall_s:g} s")
        time.sleep(every_s)
        seen = observe()
        patience.saw(progress(seen))
