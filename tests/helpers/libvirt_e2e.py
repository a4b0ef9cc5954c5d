"""Pieces of the end-to-end test on real libvirt: the lab's daemons, service processes,
configs, and waits whose deadlines follow observed progress.

The lab itself comes from ``tests/helpers/libvirt_lab.py``, shared with the driver tests.

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

from fleetwise.drivers.hypervisor.libvirt_driver import load_libvirt
from fleetwise.lab.patience import Patience
from tests.helpers.libvirt_lab import LAB_PACKAGES, Lab, lab_unavailable, running_lab

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


@dataclass(frozen=True)
class DomainOnHost:
    """A domain as one libvirtd sees it; ``job_bytes`` is what a running job (a migration)
    has transferred, None without a job."""

    active: bool
    running: bool
    persistent: bool
    cpu_time_ns: int
    job_bytes: int | None = None


class Daemon:
    """One libvirtd of the lab, asked directly over a connection of the test's own."""

    def __init__(self, uri: str) -> None:
        self._lv: Any = load_libvirt()
        self.uri = uri
        self._conn: Any = self._lv.open(uri)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def domain(self, uuid: str, *, job: bool = False) -> DomainOnHost | None:
        """Domain ``uuid`` (with its job's progress when ``job``); None when there is none."""
        lv = self._lv
        try:
            dom = self._conn.lookupByUUIDString(uuid)
            state, _reason = dom.state()
            found = DomainOnHost(
                active=bool(dom.isActive()),
                running=state == lv.VIR_DOMAIN_RUNNING,
                persistent=bool(dom.isPersistent()),
                cpu_time_ns=int(dom.info()[4]),
            )
            if not job:
                return found
            stats = dom.jobStats()
        except lv.libvirtError as exc:
            if exc.get_error_code() == lv.VIR_ERR_NO_DOMAIN:
                return None
            raise
        if int(stats.get("type", lv.VIR_DOMAIN_JOB_NONE)) == lv.VIR_DOMAIN_JOB_NONE:
            return found
        return DomainOnHost(
            found.active,
            found.running,
            found.persistent,
            found.cpu_time_ns,
            int(stats.get("data_processed", 0)),
        )

    def cpu_time_ns(self, uuid: str) -> int:
        """Domain ``uuid``'s CPU time; it must exist."""
        found = self.domain(uuid)
        if found is None:
            raise AssertionError(f"domain {uuid} vanished from {self.uri}")
        return found.cpu_time_ns


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
    every_s: float = 0.5,
) -> dict[str, float]:
    """Observe until every stage is reached, in order; the seconds at which each was, by key.

    Fails with the evidence (what was reached when, ``describe`` of the last observation,
    the services' logs) when a stage overruns a budget or gives a verdict, when ``progress``
    of the observations did not change for ``stall_s`` seconds, or when a service exits.
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


def wait_until_idle(
    daemon: Daemon,
    uuid: str,
    reference: str,
    *,
    stall_s: float,
    firmware_cpu_s: float = 30.0,
    window_cpu_s: float = 0.25,
    share: float = 0.05,
) -> float:
    """Wait until guest ``uuid`` idles; returns the seconds waited.

    Idle means: over a stretch in which ``reference`` (a busy guest of the same daemon) ran
    for ``window_cpu_s`` of CPU time, ``uuid`` ran for less than ``share`` of that. Measured
    against a guest that always wants a core, a guest still in its firmware but starved by
    other load does not pass for idle. Fails once ``uuid`` has used ``firmware_cpu_s`` of CPU
    without settling, or when ``reference`` got no CPU for ``stall_s``.
    """
    start = time.monotonic()
    first = daemon.cpu_time_ns(uuid)
    patience = Patience(stall_s)
    while True:
        guest, ref = daemon.cpu_time_ns(uuid), daemon.cpu_time_ns(reference)
        while (now_ref := daemon.cpu_time_ns(reference)) - ref < window_cpu_s * 1e9:
            patience.saw(now_ref)
            assert not patience.expired(), f"guest {reference} got no CPU for {stall_s:g} s"
            time.sleep(0.1)
        used = daemon.cpu_time_ns(uuid) - guest
        if used < share * (now_ref - ref):
            return time.monotonic() - start
        spent_s = (daemon.cpu_time_ns(uuid) - first) / 1e9
        assert spent_s < firmware_cpu_s, (
            f"guest {uuid} used {spent_s:.1f} s of CPU and still does not idle "
            f"(last stretch: {used / (now_ref - ref):.0%} of what {reference} used)"
        )


def wait_until_running(daemon: Daemon, uuid: str, *, cpu_s: float, stall_s: float) -> float:
    """Wait until guest ``uuid`` has run for ``cpu_s`` more CPU seconds on ``daemon``;
    returns the seconds waited. Fails when it got no CPU at all for ``stall_s``."""
    start = time.monotonic()
    first = daemon.cpu_time_ns(uuid)
    patience = Patience(stall_s)
    while (now := daemon.cpu_time_ns(uuid)) - first < cpu_s * 1e9:
        patience.saw(now)
        assert not patience.expired(), (
            f"guest {uuid} got no CPU on {daemon.uri} for {stall_s:g} s "
            f"({(now - first) / 1e9:.2f} s since the first look)"
        )
        time.sleep(0.1)
    return time.monotonic() - start
