"""``fleetwise demo``: a lab whose fleet consolidates live in the terminal.

The demo brings up a lab (see :mod:`fleetwise.lab`: a shared simulated fleet whose VMs
replay a bundled PlanetLab day on a sped-up clock, a controller and one agent per host;
SQLite, loopback only, nothing needs root) in its state directory, a temporary one by
default. Its processes are tied to the demo. It prints the controller's URL and admin
token, shows the fleet until the duration ends or Ctrl-C (or SIGTERM), then takes the
lab down and prints a summary.
"""

from __future__ import annotations

import math
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from fleetwise.api.client import AdminClient
from fleetwise.demo.cluster import CONTROLLER
from fleetwise.demo.observe import FleetStatus, observe
from fleetwise.demo.view import render, status_line, summary_lines
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import DriverError, ParameterError
from fleetwise.lab.control import Lab, Up
from fleetwise.lab.record import LabShape
from fleetwise.lab.settings import ACTIVE_W, ASLEEP_W
from fleetwise.lab.signals import interrupt, route_signals
from fleetwise.lab.startup import last_log_lines

__all__ = ["DemoOptions", "DemoOutcome", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    """How big, how fast and how long; ``state_dir`` None means a temporary directory."""

    duration_s: float = 60.0
    hosts: int = 6
    vms: int = 20
    day: str = "20110303"
    speedup: float = 300.0
    ram_mb: int = 8192
    refresh_s: float = 0.5
    plain_every_s: float = 5.0
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        for name in ("duration_s", "refresh_s", "plain_every_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ParameterError(f"{name.removesuffix('_s')} must be a positive number")

    def shape(self) -> LabShape:
        """The lab the demo runs (ParameterError naming a bad option)."""
        return LabShape.of(
            hosts=self.hosts, vms=self.vms, day=self.day, speedup=self.speedup, ram_mb=self.ram_mb
        )


CLEAN_EXIT = frozenset({0, -signal.SIGTERM})
"""Exit statuses of a child that stopped when asked (one still starting up has no
handler for SIGTERM yet, and ends by the signal itself)."""


@dataclass(frozen=True)
class DemoOutcome:
    """How the demo ended: the last status seen and each child's exit status."""

    status: FleetStatus | None
    exit_codes: dict[str, int | None]
    interrupted: bool

    @property
    def clean(self) -> bool:
        """Whether every child stopped when asked (none had to be killed or failed)."""
        return all(code in CLEAN_EXIT for code in self.exit_codes.values())


@contextmanager
def _root(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        yield state_dir
        return
    with tempfile.TemporaryDirectory(prefix="fleetwise-demo-", ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def _check_processes(lab: Lab) -> None:
    """DriverError with the tail of its log if a process of the lab has exited."""
    record, rows = lab.status()
    for row in rows:
        if not row.alive:
            process = record.process(row.name)
            status = lab.launcher.exit_status(process)
            tail = "\n".join(last_log_lines(lab.paths, process, 15))
            raise DriverError(f"{row.name} exited unexpectedly (status {status}):\n{tail}")


class _Watcher:
    """Observes the fleet every ``refresh_s`` and shows it."""

    def __init__(
        self, options: DemoOptions, fleet: SharedFleet, admin: AdminClient, console: Console
    ) -> None:
        self.options = options
        self.fleet = fleet
        self.admin = admin
        self.console = console
        self.status: FleetStatus | None = None
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def look(self) -> FleetStatus:
        self.status = observe(
            self.fleet,
            self.admin,
            speedup=self.options.speedup,
            active_w=ACTIVE_W,
            asleep_w=ASLEEP_W,
            previous=self.status,
        )
        return self.status

    def watch(self, lab: Lab) -> None:
        if self.console.is_terminal:
            self._live(lab)
        else:
            self._plain(lab)

    def _live(self, lab: Lab) -> None:
        options = self.options
        with Live(console=self.console, refresh_per_second=4, transient=False) as live:
            while True:
                status = self.look()
                elapsed = self.elapsed()
                live.update(
                    render(
                        status,
                        elapsed_s=elapsed,
                        duration_s=options.duration_s,
                        speedup=options.speedup,
                    )
                )
                if elapsed >= options.duration_s:
                    return
                _check_processes(lab)
                time.sleep(min(options.refresh_s, options.duration_s - elapsed))

    def _plain(self, lab: Lab) -> None:
        options = self.options
        next_line = 0.0
        while True:
            status = self.look()
            elapsed = self.elapsed()
            if elapsed >= next_line or elapsed >= options.duration_s:
                self.console.print(status_line(status, elapsed_s=elapsed), soft_wrap=True)
                next_line += options.plain_every_s
            if elapsed >= options.duration_s:
                return
            _check_processes(lab)
            time.sleep(min(options.refresh_s, options.duration_s - elapsed))


def run_demo(options: DemoOptions, console: Console) -> DemoOutcome:
    """Run the demo; every child process is stopped before this returns or raises."""
    shape = options.shape()
    with _root(options.state_dir) as root, route_signals(interrupt):
        lab = Lab(root, tied=True)
        console.print(
            f"fleetwise demo: {shape.hosts} hosts, {shape.vms} VMs replaying PlanetLab "
            f"day {shape.day} at {shape.speedup:g}× real time; state in {lab.paths.root}",
            soft_wrap=True,
        )
        try:
            up = lab.up(shape, given=list(LabShape.model_fields))
        except KeyboardInterrupt:
            return DemoOutcome(None, {}, interrupted=True)
        _introduce(console, lab, up)
        return _run(options, console, lab, up)


def _introduce(console: Console, lab: Lab, up: Up) -> None:
    """Say what runs and how to inspect it with the admin commands."""
    names = ", ".join(f"{p.name} (pid {p.pid})" for p in up.record.processes)
    console.print(f"started {len(up.record.processes)} processes: {names}", soft_wrap=True)
    console.print(
        f"controller: {up.record.url} (admin token {escape(lab.token())})", soft_wrap=True
    )
    console.print(
        f"inspect it from another terminal: source {lab.paths.env}; fleetwise hosts list",
        soft_wrap=True,
    )


def _run(options: DemoOptions, console: Console, lab: Lab, up: Up) -> DemoOutcome:
    """Watch the running lab, take it down and sum up."""
    interrupted = False
    fleet = SharedFleet.open(lab.paths.fleet)
    admin = AdminClient(up.record.url, lab.token(), 5.0)
    watcher = _Watcher(options, fleet, admin, console)
    try:
        watcher.watch(lab)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with route_signals(signal.SIG_IGN):
            if lab.launcher.alive(up.record.process(CONTROLLER)):
                with suppress(DriverError):
                    watcher.look()  # the controller's last figures
            console.print("stopping the agents and the controller ...")
            codes = lab.down()
            admin.close()
            fleet.close()
    status = watcher.status
    if status is not None:
        for line in summary_lines(status, elapsed_s=watcher.elapsed()):
            console.print(line, soft_wrap=True)
    outcome = DemoOutcome(status, codes, interrupted)
    console.print(
        f"stopped {len(codes)} processes"
        + (" cleanly" if outcome.clean else f"; exit statuses {codes}"),
        soft_wrap=True,
    )
    return outcome
