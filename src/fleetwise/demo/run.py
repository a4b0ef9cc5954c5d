"""``fleetwise demo``: a simulated fleet, its controller and agents, consolidating live.

The demo writes a shared simulated fleet whose VMs replay a bundled PlanetLab day on
a sped-up clock, starts the controller and one agent per host as child processes
(SQLite, loopback only, nothing needs root), shows the fleet until the duration
ends or Ctrl-C (or SIGTERM), then stops every child and prints a summary.
"""

from __future__ import annotations

import math
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from fleetwise.agent.sim_fleet import FleetPlan, create_fleet
from fleetwise.api.client import AdminClient
from fleetwise.demo.cluster import CONTROLLER, ClusterSettings, LocalCluster
from fleetwise.demo.observe import FleetStatus, observe
from fleetwise.demo.view import render, status_line, summary_lines
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import DriverError, ParameterError

__all__ = ["DemoOptions", "DemoOutcome", "cluster_settings", "run_demo"]

ACTIVE_W = 200.0
ASLEEP_W = 10.0
COLLECT_S = 300.0
"""Simulated seconds between collections: the PlanetLab traces' own sampling step."""


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
        for name in ("duration_s", "speedup", "refresh_s", "plain_every_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ParameterError(f"{name.removesuffix('_s')} must be a positive number")


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


def cluster_settings(options: DemoOptions, fleet_path: Path, root: Path) -> ClusterSettings:
    """Configuration of the demo's controller and agents for ``options.speedup``."""
    speed = options.speedup
    hosts = [f"host{i + 1}" for i in range(options.hosts)]
    return ClusterSettings(
        fleet_path=fleet_path,
        hosts=hosts,
        state_dir=root,
        controller={
            "plan_round_spacing_s": 2.0,
            "executor_spacing_s": 0.5,
            "staleness_window_s": 30.0,
            "heartbeat_timeout_s": 30.0,
            "wake_timeout_s": 60.0,
            "migration_timeout_s": 120.0,
            "metrics": {
                "energy": {"active_w": ACTIVE_W, "asleep_w": ASLEEP_W, "transition_w": ACTIVE_W}
            },
        },
        agent={
            # Real seconds: collect once per trace sample of simulated time.
            "intervals": {
                "collect_s": COLLECT_S / speed,
                "heartbeat_s": 1.0,
                "assignment_poll_s": 0.25,
                "delivery_s": 0.1,
            },
            "history_length": 30,
            "http": {"backoff_initial_s": 0.5, "backoff_max_s": 5.0, "progress_every_s": 1.0},
        },
    )


@contextmanager
def _root(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        yield state_dir
        return
    with tempfile.TemporaryDirectory(prefix="fleetwise-demo-", ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _signals(handler: Any) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` (main thread only) and restore them after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


def _check_children(cluster: LocalCluster) -> None:
    for process in cluster.processes.exited():
        tail = "\n".join(process.log_text().splitlines()[-15:])
        raise DriverError(
            f"{process.name} exited unexpectedly (status {process.returncode}):\n{tail}"
        )


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

    def watch(self, cluster: LocalCluster) -> None:
        if self.console.is_terminal:
            self._live(cluster)
        else:
            self._plain(cluster)

    def _live(self, cluster: LocalCluster) -> None:
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
                _check_children(cluster)
                time.sleep(min(options.refresh_s, options.duration_s - elapsed))

    def _plain(self, cluster: LocalCluster) -> None:
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
            _check_children(cluster)
            time.sleep(min(options.refresh_s, options.duration_s - elapsed))


def run_demo(options: DemoOptions, console: Console) -> DemoOutcome:
    """Run the demo; every child process is stopped before this returns or raises."""
    plan = FleetPlan(
        hosts=options.hosts,
        vms=options.vms,
        day=options.day,
        speedup=options.speedup,
        ram_mb=options.ram_mb,
    )
    with _root(options.state_dir) as root, _signals(_interrupt):
        fleet = create_fleet(root / "fleet.db", plan)
        try:
            outcome = _run(options, console, fleet, root)
        finally:
            fleet.close()
    return outcome


def _run(options: DemoOptions, console: Console, fleet: SharedFleet, root: Path) -> DemoOutcome:
    """Start the cluster on ``fleet``, watch it, stop it and sum up."""
    interrupted = False
    cluster = LocalCluster(cluster_settings(options, fleet.path, root))
    admin = cluster.admin(timeout_s=5.0)
    watcher = _Watcher(options, fleet, admin, console)
    try:
        console.print(
            f"fleetwise demo: {options.hosts} hosts, {options.vms} VMs replaying PlanetLab "
            f"day {options.day} at {options.speedup:g}× real time; state in {root}",
            soft_wrap=True,
        )
        cluster.start()
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in cluster.processes)
        console.print(f"started {len(cluster.processes)} processes: {names}", soft_wrap=True)
        watcher.started = time.monotonic()
        watcher.watch(cluster)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with _signals(signal.SIG_IGN):
            if any(p.name == CONTROLLER for p in cluster.processes.running()):
                with suppress(DriverError):
                    watcher.look()  # the controller's last figures
            console.print("stopping the agents and the controller ...")
            codes = cluster.stop()
            admin.close()
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
