"""Waiting until started processes are up: the controller answers, the agents registered.

An agent counts as registered once the controller heard from it after it started (its
host's ``last_heartbeat`` is later than the start: registering records a heartbeat).
The agent of a host that sleeps in the fleet cannot reach its hypervisor, so it cannot
register until the controller wakes the host: it counts as up once it has logged.
The wait gives up when nothing progressed for :data:`PATIENCE_S` seconds (see
:mod:`fleetwise.lab.patience`), or at once when a process exits; the error names what
did not come up and where its log is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Literal

from fleetwise.api.client import AdminClient
from fleetwise.demo.cluster import admin_http, controller_answers
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.drivers.power.base import PowerState
from fleetwise.errors import DriverError, InputError
from fleetwise.lab.launcher import Launcher
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.patience import Patience
from fleetwise.lab.record import LabProcess, LabRecord

__all__ = ["PATIENCE_S", "Arrival", "last_log_lines", "wait_until_up"]

PATIENCE_S = 60.0
"""Seconds without any progress after which starting up is given up."""
POLL_S = 0.1

Arrival = Literal["answers", "registered", "asleep"]
"""How a process came up: the controller answers; an agent registered, or its host sleeps."""


def wait_until_up(
    launcher: Launcher,
    record: LabRecord,
    names: Sequence[str],
    token: str,
    patience_s: float = PATIENCE_S,
) -> dict[str, Arrival]:
    """Wait until every process in ``names`` (just started by ``launcher``) is up, and
    tell how each came up; DriverError if one exits or nothing progresses."""
    paths = launcher.paths
    pending = {name: record.process(name) for name in names}
    arrived: dict[str, Arrival] = {}
    patience = Patience(patience_s)
    with _Watch(launcher, record.url, token) as watch:
        while pending:
            for process in pending.values():
                if not launcher.alive(process):
                    raise DriverError(_exited(launcher, paths, process))
                if launcher.has_logged(process):
                    patience.saw(("logged", process.name))
            for name, arrival in watch.arrivals(list(pending.values())).items():
                patience.saw(("up", name))
                arrived[name] = arrival
                del pending[name]
            if pending and patience.expired():
                raise DriverError(
                    f"{', '.join(pending)} did not come up (nothing progressed for "
                    f"{patience_s:g} s); logs in {paths.root / 'logs'}"
                )
            if pending:
                time.sleep(POLL_S)
    return arrived


class _Watch:
    """Looks at the controller and the fleet to tell which processes are up."""

    def __init__(self, launcher: Launcher, url: str, token: str) -> None:
        self.launcher = launcher
        self.http = admin_http(url, token)
        self.admin = AdminClient(url, token, 5.0)
        self.fleet = SharedFleet.open(launcher.paths.fleet)

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.admin.close()
        self.fleet.close()

    def arrivals(self, processes: Sequence[LabProcess]) -> dict[str, Arrival]:
        """Those of ``processes`` that are up now, and how."""
        agents = [p for p in processes if p.role == "agent"]
        heard = self._last_heard() if agents else {}
        found: dict[str, Arrival] = {}
        for process in processes:
            arrival: Arrival | None
            if process.role == "agent":
                arrival = self._agent_arrival(process, heard)
            else:
                arrival = "answers" if controller_answers(self.http) else None
            if arrival is not None:
                found[process.name] = arrival
        return found

    def _agent_arrival(self, agent: LabProcess, heard: dict[str, datetime]) -> Arrival | None:
        host = agent.host or agent.name
        last, started = heard.get(host), agent.started_at
        if (
            last is not None
            and started is not None
            and last >= datetime.fromtimestamp(started, UTC)
        ):
            return "registered"
        if self.launcher.has_logged(agent) and self._asleep(host):
            return "asleep"
        return None

    def _last_heard(self) -> dict[str, datetime]:
        """Host → when the controller last heard from its agent (nothing if it is down)."""
        with suppress(DriverError, InputError):
            hosts = self.admin.hosts()
            return {h.name: h.last_heartbeat for h in hosts if h.last_heartbeat is not None}
        return {}

    def _asleep(self, host: str) -> bool:
        with suppress(DriverError):
            return self.fleet.power_status(host) is PowerState.OFF
        return False


def last_log_lines(
    paths: LabPaths, process: LabProcess, count: int = 1, limit: int = 200
) -> list[str]:
    """The last ``count`` lines ``process`` logged (each shortened to ``limit`` characters)."""
    try:
        text = (paths.root / process.log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = [line.strip()[:limit] for line in text.splitlines() if line.strip()]
    return lines[-count:]


def _exited(launcher: Launcher, paths: LabPaths, process: LabProcess) -> str:
    status = launcher.exit_status(process)
    how = "" if status is None else f" (status {status})"
    last = (last_log_lines(paths, process) or ["no output"])[0]
    return f"{process.name} exited while starting{how}: {last}; log: {paths.root / process.log}"
