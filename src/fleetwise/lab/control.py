"""The lab's operations: up, status, crash, kill, start and down.

Every operation reads the lab's record from its state directory, so each can run in a
command of its own. Those that change processes hold the lab's lock. ``up`` on a
directory holding a stopped lab starts it again with its state.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleetwise.demo.cluster import CONTROLLER
from fleetwise.demo.processes import DEFAULT_GRACE_S
from fleetwise.drivers.hypervisor.shared_fleet import CrashedVm, SharedFleet
from fleetwise.errors import InputError, ParameterError
from fleetwise.lab.launcher import Launcher
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.prepare import prepare
from fleetwise.lab.record import (
    LabProcess,
    LabRecord,
    LabShape,
    load_record,
    read_token,
    save_record,
)
from fleetwise.lab.signals import route_signals
from fleetwise.lab.startup import Arrival, wait_until_up

__all__ = ["Lab", "ProcessStatus", "Started", "Up"]


@dataclass(frozen=True)
class Up:
    """A lab that came up: its record, whether it was resumed, how long it took and how
    each process came up."""

    record: LabRecord
    resumed: bool
    took_s: float
    arrivals: dict[str, Arrival]


@dataclass(frozen=True)
class Started:
    """A process started again, and how it came up (None: not waited for, the
    controller being down)."""

    process: LabProcess
    arrival: Arrival | None


@dataclass(frozen=True)
class ProcessStatus:
    """One process as ``lab status`` shows it."""

    name: str
    role: str
    host: str | None
    pid: int | None
    alive: bool
    log: Path


class Lab:
    """The lab in ``state_dir``; ``tied``: processes it starts stop when this process ends."""

    def __init__(self, state_dir: Path, *, tied: bool = False) -> None:
        self.paths = LabPaths.of(state_dir)
        self.launcher = Launcher(self.paths, tied=tied)

    # -- reading -----------------------------------------------------------------------

    def record(self) -> LabRecord:
        """The lab's record; InputError if there is no lab."""
        record = load_record(self.paths)
        if record is None:
            raise InputError(f"no lab in {self.paths.root}; start one with 'fleetwise lab up'")
        return record

    def token(self) -> str:
        """The admin token."""
        return read_token(self.paths)

    def status(self) -> tuple[LabRecord, list[ProcessStatus]]:
        """The record and each process with whether it runs."""
        record = self.record()
        rows = [
            ProcessStatus(
                p.name, p.role, p.host, p.pid, self.launcher.alive(p), self.paths.root / p.log
            )
            for p in record.processes
        ]
        return record, rows

    # -- up and down -------------------------------------------------------------------

    def up(self, shape: LabShape, given: Collection[str] = ()) -> Up:
        """Write and start a new lab of ``shape``, or start a stopped one again.

        ``given`` names the fields of ``shape`` the caller chose; a stopped lab of another
        shape in those is refused, as is a running lab.
        """
        began = time.monotonic()
        paths = self.paths
        if paths.root.exists() and not paths.root.is_dir():
            raise InputError(f"{paths.root} is not a directory")
        if load_record(paths) is None and not paths.is_empty():
            raise InputError(
                f"{paths.root} is not empty and holds no lab; choose a new or empty --state-dir"
            )
        created = paths.create()
        with paths.locked():
            record = load_record(paths)
            resumed = record is not None
            if record is None:
                record = prepare(paths, shape, created=created)
            else:
                self._check_stopped(record)
                _check_same_shape(paths, record.shape, shape, given)
            record, arrivals = self._start_all(record)
        return Up(record, resumed, time.monotonic() - began, arrivals)

    def down(self, grace_s: float = DEFAULT_GRACE_S) -> dict[str, int | None]:
        """Stop every running process (SIGTERM, SIGKILL after ``grace_s``); the exit
        statuses of those this object started (others: None), by name."""
        with self._locked() as record:
            running = [p for p in record.processes if self.launcher.alive(p)]
            return self.launcher.stop(running, grace_s)

    # -- one process -------------------------------------------------------------------

    def kill(self, name: str) -> LabProcess:
        """SIGKILL process ``name``; InputError if it is unknown or not running."""
        with self._locked() as record:
            process = record.process(name)
            if not self.launcher.alive(process):
                raise InputError(f"{name} is not running")
            self.launcher.kill(process)
            return process

    def start(self, name: str) -> Started:
        """Start process ``name`` again with its state and wait until it is up (an agent
        only while the controller runs); InputError if unknown or running."""
        with self._locked() as before:
            process = before.process(name)
            if self.launcher.alive(process):
                raise InputError(f"{name} is already running (pid {process.pid})")
            wait = name == CONTROLLER or self.launcher.alive(before.process(CONTROLLER))
            record = self._launch(before, process)
            started = record.process(name)
            arrival = None
            try:
                if wait:
                    arrival = wait_until_up(self.launcher, record, [name], self.token())[name]
            except BaseException:
                self.launcher.stop([started])
                raise
            return Started(started, arrival)

    # -- the fleet ---------------------------------------------------------------------

    def crash(self, vm: str) -> CrashedVm:
        """Make VM ``vm`` (UUID, start of one, or name) crash on its own; InputError if
        there is no such VM."""
        self.record()
        fleet = SharedFleet.open(self.paths.fleet)
        try:
            return fleet.crash_vm(vm)
        except ParameterError as exc:
            raise InputError(f"{exc}; 'fleetwise vms list' lists the lab's VMs") from None
        finally:
            fleet.close()

    # -- helpers -----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[LabRecord]:
        """Hold the lab's lock and read its record; InputError if there is no lab."""
        self.record()
        with self.paths.locked():
            yield self.record()

    def _check_stopped(self, record: LabRecord) -> None:
        running = [p for p in record.processes if self.launcher.alive(p)]
        if running:
            raise InputError(
                f"a lab is already running in {self.paths.root} ({len(running)} of "
                f"{len(record.processes)} processes); 'fleetwise lab down' stops it"
            )

    def _launch(self, record: LabRecord, process: LabProcess) -> LabRecord:
        """Start ``process`` and save the record with its pid at once."""
        record = record.replaced(self.launcher.start(process))
        save_record(self.paths, record)
        return record

    def _start_all(self, record: LabRecord) -> tuple[LabRecord, dict[str, Arrival]]:
        """Start the controller, wait until it answers, then start every agent and wait until
        all registered; on any failure (or Ctrl-C) stop what was started."""
        token = self.token()
        controller, *agents = record.processes
        try:
            record = self._launch(record, controller)
            arrivals = wait_until_up(self.launcher, record, [controller.name], token)
            for agent in agents:
                record = self._launch(record, agent)
            arrivals |= wait_until_up(self.launcher, record, [a.name for a in agents], token)
        except BaseException:
            with route_signals(signal.SIG_IGN):
                self.launcher.stop([p for p in record.processes if self.launcher.alive(p)])
            raise
        return record, arrivals


def _check_same_shape(
    paths: LabPaths, stored: LabShape, asked: LabShape, given: Collection[str]
) -> None:
    for field in given:
        old, new = getattr(stored, field), getattr(asked, field)
        if old != new:
            option = "--" + field.replace("_", "-")
            raise InputError(
                f"the stopped lab in {paths.root} has {option} {_text(old)}, not {_text(new)}; "
                "remove it or choose another --state-dir for a different lab"
            )


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
