"""A simulated fleet whose state lives in one SQLite file shared by several processes.

Each agent process opens the same fleet file and drives its own host through a
:class:`SharedFleetHypervisor`; a controller may switch hosts on and off through
:class:`SharedFleetPower`. Every operation is one SQLite transaction, so all processes
see one consistent fleet and a VM row (with its single ``host`` column) is never on
two hosts.

Time is shared too: simulated seconds are ``(wall − epoch) × speedup`` with ``epoch``
and ``speedup`` stored in the file (see :class:`FleetClock`); :meth:`SharedFleet.advance_clock`
moves simulated time forward for every process at once. VM CPU demand follows a trace
per VM (utilisation fractions, one per ``sample_s``); there is no contention model. A
migration takes ``ram_mb / bandwidth`` simulated seconds: meanwhile the VM runs on the
source (listed there as MIGRATING), then its row moves to the destination in one update
and, as with QEMU, its CPU-time counter restarts there. Hosts that are not ON are
unreachable: their hypervisor calls raise DriverError and they accept no migrations.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import (
    CpuTuning,
    HostCpuTimes,
    HostInfo,
    Hypervisor,
    MigrationProgress,
    VmInfo,
    VmState,
)
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.fleet_view import FleetHostView
from fleetwise.drivers.hypervisor.simulated import SimulatedHost, SimulatedVm
from fleetwise.drivers.power.base import PowerDriver, PowerState
from fleetwise.errors import DriverError, InputError, ParameterError
from fleetwise.ids import check_vm_uuid

__all__ = [
    "CrashedVm",
    "FleetClock",
    "FleetHostSpec",
    "FleetMigration",
    "FleetVmSpec",
    "SharedFleet",
    "SharedFleetHypervisor",
    "SharedFleetPower",
]

SCHEMA_VERSION = 2
_MIN_STEP_S = 1e-3
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE fleet (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    epoch REAL NOT NULL,
    speedup REAL NOT NULL,
    bandwidth_mb_s REAL NOT NULL,
    wake_latency_s REAL NOT NULL,
    last_now REAL NOT NULL,
    label TEXT NOT NULL
);
CREATE TABLE hosts (
    name TEXT PRIMARY KEY,
    cores INTEGER NOT NULL,
    core_mhz REAL NOT NULL,
    ram_mb INTEGER NOT NULL,
    overhead_cores REAL NOT NULL,
    started_at REAL NOT NULL,
    departed_busy_s REAL NOT NULL DEFAULT 0,
    power_on INTEGER NOT NULL DEFAULT 1,
    ready_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE migrations (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    started_at REAL NOT NULL,
    expected_end REAL NOT NULL,
    ram_mb INTEGER NOT NULL,
    doomed TEXT,
    finished_at REAL,
    outcome TEXT,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE vms (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    ram_mb INTEGER NOT NULL,
    host TEXT NOT NULL REFERENCES hosts(name),
    anchor_t REAL NOT NULL,
    anchor_busy_s REAL NOT NULL,
    sample_s REAL NOT NULL,
    trace BLOB NOT NULL,
    shares INTEGER,
    quota_us INTEGER,
    period_us INTEGER,
    migration INTEGER REFERENCES migrations(id)
);
CREATE TABLE failures (
    uuid TEXT PRIMARY KEY,
    remaining INTEGER NOT NULL,
    message TEXT NOT NULL,
    at_fraction REAL NOT NULL
);
"""


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive number, got {value}")


# A shared fleet's hosts and VMs are described exactly as the in-memory fleet's.
FleetHostSpec = SimulatedHost
FleetVmSpec = SimulatedVm


@dataclass(frozen=True)
class FleetMigration:
    """One migration attempt; ``outcome`` and ``finished_at`` are None while it runs."""

    ticket: int
    uuid: str
    source: str
    destination: str
    started_at: float
    expected_end: float
    ram_mb: int
    finished_at: float | None
    outcome: MigrationOutcome | None
    message: str


@dataclass(frozen=True)
class CrashedVm:
    """A VM that :meth:`SharedFleet.crash_vm` made crash, and the host it ran on."""

    uuid: str
    name: str
    host: str


def _migration_of(row: sqlite3.Row) -> FleetMigration:
    outcome = row["outcome"]
    return FleetMigration(
        ticket=int(row["id"]),
        uuid=str(row["uuid"]),
        source=str(row["source"]),
        destination=str(row["destination"]),
        started_at=float(row["started_at"]),
        expected_end=float(row["expected_end"]),
        ram_mb=int(row["ram_mb"]),
        finished_at=None if row["finished_at"] is None else float(row["finished_at"]),
        outcome=None if outcome is None else MigrationOutcome(outcome),
        message=str(row["message"]),
    )


class FleetClock:
    """The fleet's shared simulated time; ``wall`` stays real time (for timestamps)."""

    def __init__(self, fleet: SharedFleet) -> None:
        self._fleet = fleet

    def now(self) -> float:
        """Simulated seconds since the fleet was created (never going backwards)."""
        return self._fleet.sim_time()

    def wall(self) -> float:
        """Real seconds since the Unix epoch."""
        return self._fleet.wall()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds`` of simulated time; ``True`` if ``stop`` cut the wait short."""
        real = max(0.0, seconds) / self._fleet.speedup()
        if stop is None:
            time.sleep(real)
            return False
        return stop.wait(real)


class SharedFleet:
    """One fleet file, opened by this process; safe to share between threads."""

    def __init__(self, path: Path, *, wall: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.wall = wall
        self.clock = FleetClock(self)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._traces: dict[tuple[bytes, float], CpuTrace] = {}
        self._closed = False

    # -- creating and opening ----------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        hosts: Sequence[FleetHostSpec],
        vms: Sequence[tuple[str, FleetVmSpec]],
        *,
        speedup: float = 1.0,
        bandwidth_mb_s: float = 100.0,
        wake_latency_s: float = 60.0,
        label: str = "",
        wall: Callable[[], float] = time.time,
    ) -> SharedFleet:
        """Write a new fleet file (refusing to overwrite one) with ``vms`` as (host, VM)."""
        _positive("speedup", speedup)
        _positive("bandwidth_mb_s", bandwidth_mb_s)
        if not (math.isfinite(wake_latency_s) and wake_latency_s >= 0):
            raise ParameterError(f"wake_latency_s must be >= 0, got {wake_latency_s}")
        path = Path(path)
        if path.exists():
            raise InputError(f"{path} already exists; remove it or choose another path")
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise ParameterError("host names must be unique")
        _check_initial_placement(hosts, vms)
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"cannot create a fleet file at {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO fleet VALUES (1, ?, ?, ?, ?, ?, 0.0, ?)",
                (SCHEMA_VERSION, wall(), speedup, bandwidth_mb_s, wake_latency_s, label),
            )
            conn.executemany(
                "INSERT INTO hosts (name, cores, core_mhz, ram_mb, overhead_cores, started_at)"
                " VALUES (?, ?, ?, ?, ?, 0.0)",
                [(h.name, h.cores, h.core_mhz, h.ram_mb, h.overhead_cores) for h in hosts],
            )
            conn.executemany(
                "INSERT INTO vms (uuid, name, vcpus, ram_mb, host, anchor_t, anchor_busy_s,"
                " sample_s, trace) VALUES (?, ?, ?, ?, ?, 0.0, 0.0, ?, ?)",
                [_vm_row(host, spec) for host, spec in vms],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            path.unlink(missing_ok=True)
            raise
        conn.close()
        return cls.open(path, wall=wall)

    @classmethod
    def open(cls, path: Path, *, wall: Callable[[], float] = time.time) -> SharedFleet:
        """Open an existing fleet file; InputError when it is missing or not a fleet."""
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"no fleet file at {path}; create one with 'fleetwise agent sim-fleet init'"
            )
        fleet = cls(path, wall=wall)
        try:
            version = fleet._read_meta()["version"]
        except sqlite3.DatabaseError as exc:
            fleet.close()
            raise InputError(f"{path} is not a fleet file: {exc}") from exc
        if version != SCHEMA_VERSION:
            fleet.close()
            raise InputError(f"{path} has fleet format {version}, expected {SCHEMA_VERSION}")
        return fleet

    def close(self) -> None:
        """Close this process's connections; later calls fail."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # -- plumbing ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise DriverError(f"fleet {self.path} is closed")
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[tuple[sqlite3.Connection, float]]:
        """One write transaction with the current simulated time, migrations settled.

        SQLite failures (e.g. the file stayed locked too long) become DriverError.
        """
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise DriverError(f"fleet {self.path}: {exc}") from exc
        try:
            now = self._advance_now(conn)
            self._settle(conn, now)
            yield conn, now
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise DriverError(f"fleet {self.path}: {exc}") from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise DriverError(f"fleet {self.path}: {exc}") from exc

    def _read_meta(self) -> sqlite3.Row:
        row: sqlite3.Row | None = self._connection().execute("SELECT * FROM fleet").fetchone()
        if row is None:
            raise sqlite3.DatabaseError("the fleet table is empty")
        return row

    @staticmethod
    def _raw_now(meta: sqlite3.Row, wall: float) -> float:
        return max(float(meta["last_now"]), (wall - float(meta["epoch"])) * float(meta["speedup"]))

    def _advance_now(self, conn: sqlite3.Connection) -> float:
        meta = conn.execute("SELECT * FROM fleet").fetchone()
        now = self._raw_now(meta, self.wall())
        conn.execute("UPDATE fleet SET last_now = ?", (now,))
        return now

    def sim_time(self) -> float:
        """The shared simulated time in seconds."""
        return self._raw_now(self._read_meta(), self.wall())

    def speedup(self) -> float:
        """Simulated seconds per real second."""
        return float(self._read_meta()["speedup"])

    def advance_clock(self, seconds: float) -> float:
        """Move simulated time forward by ``seconds`` for every process; returns the new time."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ParameterError(f"time can only advance by a finite amount >= 0, got {seconds}")
        with self._transaction() as (conn, now):
            speedup = float(conn.execute("SELECT speedup FROM fleet").fetchone()[0])
            conn.execute(
                "UPDATE fleet SET epoch = epoch - ?, last_now = ?",
                (seconds / speedup, now + seconds),
            )
        return now + seconds

    def _trace(self, row: sqlite3.Row) -> CpuTrace:
        key = (bytes(row["trace"]), float(row["sample_s"]))
        trace = self._traces.get(key)
        if trace is None:
            fractions = np.frombuffer(key[0], dtype=np.float64)
            trace = self._traces[key] = CpuTrace.of(fractions.tolist(), key[1])
        return trace

    def _busy_s(self, row: sqlite3.Row, t: float) -> float:
        """CPU seconds the VM used on its current host up to ``t``."""
        trace, vcpus = self._trace(row), int(row["vcpus"])
        cap = _tuning(row).cap_cores()
        since = trace.busy_seconds(float(row["anchor_t"]), vcpus, cap)
        until = trace.busy_seconds(t, vcpus, cap)
        return float(row["anchor_busy_s"]) + until - since

    def _settle(self, conn: sqlite3.Connection, now: float) -> None:
        """Finish every migration whose end has come (inside a transaction)."""
        due = conn.execute(
            "SELECT m.*, v.vcpus, v.trace, v.sample_s, v.anchor_t, v.anchor_busy_s, v.shares,"
            " v.quota_us, v.period_us FROM migrations m JOIN vms v ON v.migration = m.id"
            " WHERE m.expected_end <= ?",
            (now,),
        ).fetchall()
        for row in due:
            if row["doomed"] is not None:
                self._finish(
                    conn,
                    row,
                    MigrationOutcome.FAILED,
                    float(row["expected_end"]),
                    str(row["doomed"]),
                )
            else:
                self._finish(conn, row, MigrationOutcome.SUCCEEDED, float(row["expected_end"]))

    def _finish(
        self,
        conn: sqlite3.Connection,
        row: sqlite3.Row,
        outcome: MigrationOutcome,
        at: float,
        message: str = "",
    ) -> None:
        """End migration ``row`` (joined with its VM's columns) with ``outcome`` at ``at``."""
        if outcome is MigrationOutcome.SUCCEEDED:
            busy = self._busy_s(row, at)
            conn.execute(
                "UPDATE hosts SET departed_busy_s = departed_busy_s + ? WHERE name = ?",
                (busy, row["source"]),
            )
            conn.execute(
                "UPDATE vms SET host = ?, anchor_t = ?, anchor_busy_s = 0, migration = NULL"
                " WHERE uuid = ?",
                (row["destination"], at, row["uuid"]),
            )
        else:
            conn.execute("UPDATE vms SET migration = NULL WHERE uuid = ?", (row["uuid"],))
        conn.execute(
            "UPDATE migrations SET finished_at = ?, outcome = ?, message = ? WHERE id = ?",
            (at, outcome.value, message, row["id"]),
        )

    def _host_row(self, conn: sqlite3.Connection, host: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM hosts WHERE name = ?", (host,)
        ).fetchone()
        if row is None:
            raise DriverError(f"no host {host!r} in fleet {self.path.name}")
        return row

    def _vm_row(self, conn: sqlite3.Connection, uuid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM vms WHERE uuid = ?", (check_vm_uuid(uuid),)
        ).fetchone()
        if row is None:
            raise DriverError(f"no VM {uuid} in fleet {self.path.name}")
        return row

    def _vm_on(self, conn: sqlite3.Connection, host: str, uuid: str) -> sqlite3.Row:
        row = self._vm_row(conn, uuid)
        if row["host"] != host:
            raise DriverError(f"no VM {uuid} on {host}")
        return row

    def _power(self, row: sqlite3.Row, now: float) -> PowerState:
        on = bool(row["power_on"]) and now >= float(row["ready_at"])
        return PowerState.ON if on else PowerState.OFF

    def _reachable(self, conn: sqlite3.Connection, host: str, now: float) -> sqlite3.Row:
        row = self._host_row(conn, host)
        state = self._power(row, now)
        if state is not PowerState.ON:
            raise DriverError(f"host {host} is not reachable (power {state.value})")
        return row

    # -- building and inspecting -----------------------------------------------------------

    def add_vm(self, host: str, spec: FleetVmSpec) -> None:
        """Start a VM on ``host`` now (its trace is read from the fleet's time origin)."""
        with self._transaction() as (conn, now):
            self._host_row(conn, host)
            if conn.execute("SELECT 1 FROM vms WHERE uuid = ?", (spec.uuid,)).fetchone():
                raise ParameterError(f"VM {spec.uuid} already exists")
            row = _vm_row(host, spec)
            conn.execute(
                "INSERT INTO vms (uuid, name, vcpus, ram_mb, host, anchor_t, anchor_busy_s,"
                " sample_s, trace) VALUES (?, ?, ?, ?, ?, ?, 0.0, ?, ?)",
                (*row[:5], now, *row[5:]),
            )

    def remove_vm(self, uuid: str) -> None:
        """Stop and forget a VM; its CPU time so far stays in its host's busy time."""
        with self._transaction() as (conn, now):
            row = self._vm_row(conn, uuid)
            if row["migration"] is not None:
                raise DriverError(f"VM {row['uuid']} is migrating")
            self._forget(conn, row, now)

    def crash_vm(self, vm: str) -> CrashedVm:
        """Make a VM (by UUID, unique start of one, or name) die on its own: a migration of
        it fails, and it is gone from its host, as a crashed transient domain is.
        ParameterError if there is no such VM, or more than one."""
        with self._transaction() as (conn, now):
            rows = conn.execute(
                "SELECT * FROM vms WHERE name = ? OR substr(uuid, 1, ?) = ?",
                (vm, len(vm), vm.lower()),
            ).fetchall()
            if len(rows) != 1 or not vm:
                what = "more than one VM" if len(rows) > 1 and vm else "no VM"
                raise ParameterError(f"{what} {vm!r} in fleet {self.path.name}")
            row = rows[0]
            if row["migration"] is not None:
                migration = conn.execute(
                    "SELECT * FROM migrations WHERE id = ?", (row["migration"],)
                ).fetchone()
                self._finish(conn, migration, MigrationOutcome.FAILED, now, "the VM crashed")
            self._forget(conn, row, now)
            return CrashedVm(str(row["uuid"]), str(row["name"]), str(row["host"]))

    def _forget(self, conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> None:
        """Delete VM ``row``; its CPU time so far stays in its host's busy time."""
        conn.execute(
            "UPDATE hosts SET departed_busy_s = departed_busy_s + ? WHERE name = ?",
            (self._busy_s(row, now), row["host"]),
        )
        conn.execute("DELETE FROM vms WHERE uuid = ?", (row["uuid"],))

    def hosts(self) -> list[str]:
        """Names of all hosts, sorted."""
        with self._transaction() as (conn, _now):
            return [str(r[0]) for r in conn.execute("SELECT name FROM hosts ORDER BY name")]

    def locate(self, uuid: str) -> str | None:
        """The host the VM runs on, or None if there is no such VM."""
        with self._transaction() as (conn, _now):
            row = conn.execute(
                "SELECT host FROM vms WHERE uuid = ?", (check_vm_uuid(uuid),)
            ).fetchone()
            return None if row is None else str(row[0])

    def placement(self) -> dict[str, list[str]]:
        """Every host with the UUIDs of its VMs, read in one transaction."""
        with self._transaction() as (conn, _now):
            out: dict[str, list[str]] = {
                str(r[0]): [] for r in conn.execute("SELECT name FROM hosts ORDER BY name")
            }
            for r in conn.execute("SELECT uuid, host FROM vms ORDER BY uuid"):
                out[str(r[1])].append(str(r[0]))
            return out

    def migration_history(self) -> tuple[FleetMigration, ...]:
        """Every migration attempt so far, oldest first."""
        with self._transaction() as (conn, _now):
            rows = conn.execute("SELECT * FROM migrations ORDER BY id").fetchall()
            return tuple(_migration_of(r) for r in rows)

    def migration_status(self, ticket: int) -> FleetMigration:
        """The current record of one migration."""
        with self._transaction() as (conn, _now):
            row = conn.execute("SELECT * FROM migrations WHERE id = ?", (ticket,)).fetchone()
            if row is None:
                raise ParameterError(f"no migration with ticket {ticket}")
            return _migration_of(row)

    def fail_next_migrations(
        self,
        uuid: str,
        count: int = 1,
        *,
        message: str = "injected migration failure",
        at_fraction: float = 0.5,
    ) -> None:
        """Make the VM's next ``count`` migrations fail after ``at_fraction`` of their time."""
        if count < 0 or not (0.0 <= at_fraction < 1.0):
            raise ParameterError("count must be >= 0 and at_fraction in [0, 1)")
        with self._transaction() as (conn, _now):
            row = self._vm_row(conn, uuid)
            conn.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                (row["uuid"], count, message, at_fraction),
            )

    # -- per-host queries ------------------------------------------------------------------

    def host_info(self, host: str) -> HostInfo:
        """Static facts about ``host``."""
        with self._transaction() as (conn, now):
            row = self._reachable(conn, host, now)
            spec = _host_spec(row)
            return HostInfo(spec.name, spec.cores, spec.core_mhz, spec.ram_mb, None)

    def host_spec(self, host: str) -> FleetHostSpec:
        """The host as created, whatever its power state."""
        with self._transaction() as (conn, _now):
            return _host_spec(self._host_row(conn, host))

    def list_vms(self, host: str) -> list[VmInfo]:
        """VMs on ``host``; one migrating away is listed as MIGRATING."""
        with self._transaction() as (conn, now):
            self._reachable(conn, host, now)
            rows = conn.execute("SELECT * FROM vms WHERE host = ? ORDER BY uuid", (host,))
            return [
                VmInfo(
                    uuid=str(r["uuid"]),
                    name=str(r["name"]),
                    state=VmState.RUNNING if r["migration"] is None else VmState.MIGRATING,
                    vcpus=int(r["vcpus"]),
                    ram_mb=int(r["ram_mb"]),
                )
                for r in rows
            ]

    def has_vm(self, host: str, uuid: str) -> bool:
        """Whether the VM runs on ``host``."""
        with self._transaction() as (conn, now):
            self._reachable(conn, host, now)
            row = conn.execute(
                "SELECT host FROM vms WHERE uuid = ?", (check_vm_uuid(uuid),)
            ).fetchone()
            return row is not None and row[0] == host

    def vm_cpu_time_ns(self, host: str, uuid: str) -> int:
        """CPU time the VM used on ``host``, summed over its vCPUs."""
        with self._transaction() as (conn, now):
            self._reachable(conn, host, now)
            return round(self._busy_s(self._vm_on(conn, host, uuid), now) * 1e9)

    def host_cpu_times(self, host: str) -> HostCpuTimes:
        """Busy time (VMs, departed VMs, overhead) and total time of all cores."""
        with self._transaction() as (conn, now):
            row = self._reachable(conn, host, now)
            elapsed = now - float(row["started_at"])
            busy = float(row["departed_busy_s"]) + float(row["overhead_cores"]) * elapsed
            for vm in conn.execute("SELECT * FROM vms WHERE host = ?", (host,)):
                busy += self._busy_s(vm, now)
            total = int(row["cores"]) * elapsed
            return HostCpuTimes(busy_ns=round(busy * 1e9), total_ns=round(total * 1e9))

    def set_cpu_tuning(self, host: str, uuid: str, tuning: CpuTuning) -> None:
        """Merge ``tuning`` into the VM's settings; a quota caps its CPU use from now on."""
        with self._transaction() as (conn, now):
            self._reachable(conn, host, now)
            row = self._vm_on(conn, host, uuid)
            old = _tuning(row)
            merged = CpuTuning(
                shares=tuning.shares if tuning.shares is not None else old.shares,
                quota_us=tuning.quota_us if tuning.quota_us is not None else old.quota_us,
                period_us=tuning.period_us if tuning.period_us is not None else old.period_us,
            )
            conn.execute(
                "UPDATE vms SET anchor_t = ?, anchor_busy_s = ?, shares = ?, quota_us = ?,"
                " period_us = ? WHERE uuid = ?",
                (
                    now,
                    self._busy_s(row, now),
                    merged.shares,
                    merged.quota_us,
                    merged.period_us,
                    row["uuid"],
                ),
            )

    def cpu_tuning(self, host: str, uuid: str) -> CpuTuning:
        """The VM's tuning so far (all None when never tuned)."""
        with self._transaction() as (conn, now):
            self._reachable(conn, host, now)
            return _tuning(self._vm_on(conn, host, uuid))

    # -- migrations --------------------------------------------------------------------------

    def start_migration(self, uuid: str, destination: str) -> int:
        """Begin moving a VM; returns a ticket for :meth:`migration_status`."""
        with self._transaction() as (conn, now):
            vm = self._vm_row(conn, uuid)
            if vm["migration"] is not None:
                raise DriverError(f"VM {vm['uuid']} is already migrating")
            if destination == vm["host"]:
                raise DriverError(f"VM {vm['uuid']} already runs on {destination}")
            self._reachable(conn, str(vm["host"]), now)
            dest = self._reachable(conn, destination, now)
            free = int(dest["ram_mb"]) - self._committed_ram_mb(conn, destination)
            if int(vm["ram_mb"]) > free:
                raise DriverError(
                    f"{destination} has {free} MB RAM free, VM {vm['uuid']} needs {vm['ram_mb']} MB"
                )
            bandwidth = float(conn.execute("SELECT bandwidth_mb_s FROM fleet").fetchone()[0])
            duration = int(vm["ram_mb"]) / bandwidth
            end, doomed = now + duration, None
            failure = conn.execute(
                "SELECT * FROM failures WHERE uuid = ? AND remaining > 0", (vm["uuid"],)
            ).fetchone()
            if failure is not None:
                conn.execute(
                    "UPDATE failures SET remaining = remaining - 1 WHERE uuid = ?", (vm["uuid"],)
                )
                end, doomed = now + float(failure["at_fraction"]) * duration, failure["message"]
            cursor = conn.execute(
                "INSERT INTO migrations (uuid, source, destination, started_at, expected_end,"
                " ram_mb, doomed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (vm["uuid"], vm["host"], destination, now, end, vm["ram_mb"], doomed),
            )
            ticket = int(cursor.lastrowid or 0)
            conn.execute("UPDATE vms SET migration = ? WHERE uuid = ?", (ticket, vm["uuid"]))
            return ticket

    def _committed_ram_mb(self, conn: sqlite3.Connection, host: str) -> int:
        """RAM of the VMs on ``host`` plus that of VMs migrating to it."""
        resident = conn.execute(
            "SELECT COALESCE(SUM(ram_mb), 0) FROM vms WHERE host = ?", (host,)
        ).fetchone()[0]
        incoming = conn.execute(
            "SELECT COALESCE(SUM(m.ram_mb), 0) FROM migrations m JOIN vms v"
            " ON v.migration = m.id WHERE m.destination = ?",
            (host,),
        ).fetchone()[0]
        return int(resident) + int(incoming)

    def abort_migration(self, uuid: str, message: str = "aborted") -> bool:
        """Stop the VM's migration; it stays on the source. False if none was running."""
        with self._transaction() as (conn, now):
            vm = self._vm_row(conn, uuid)
            if vm["migration"] is None:
                return False
            row = conn.execute(
                "SELECT * FROM migrations WHERE id = ?", (vm["migration"],)
            ).fetchone()
            self._finish(conn, row, MigrationOutcome.FAILED, now, message)
            return True

    def migration_progress(self, ticket: int) -> MigrationProgress:
        """How far a migration has come, by elapsed share of its nominal duration."""
        with self._transaction() as (conn, now):
            row = conn.execute("SELECT * FROM migrations WHERE id = ?", (ticket,)).fetchone()
            if row is None:
                raise ParameterError(f"no migration with ticket {ticket}")
            bandwidth = float(conn.execute("SELECT bandwidth_mb_s FROM fleet").fetchone()[0])
            elapsed = now - float(row["started_at"])
            total = int(row["ram_mb"]) * 1024 * 1024
            duration = int(row["ram_mb"]) / bandwidth
            done = min(total, round(total * elapsed / duration))
            return MigrationProgress(str(row["uuid"]), elapsed, total, done, total - done)

    # -- power -------------------------------------------------------------------------------

    def power_status(self, host: str) -> PowerState:
        """ON once awake, OFF while asleep or still waking."""
        with self._transaction() as (conn, now):
            return self._power(self._host_row(conn, host), now)

    def wake(self, host: str) -> None:
        """Start waking the host; it is ON after the fleet's wake latency."""
        with self._transaction() as (conn, now):
            row = self._host_row(conn, host)
            if row["power_on"]:
                return
            latency = float(conn.execute("SELECT wake_latency_s FROM fleet").fetchone()[0])
            conn.execute(
                "UPDATE hosts SET power_on = 1, ready_at = ? WHERE name = ?", (now + latency, host)
            )

    def sleep(self, host: str) -> None:
        """Suspend the host at once; refused while it wakes or takes part in a migration."""
        with self._transaction() as (conn, now):
            row = self._host_row(conn, host)
            if row["power_on"] and now < float(row["ready_at"]):
                raise DriverError(f"host {host} is still waking up")
            busy = conn.execute(
                "SELECT 1 FROM migrations m JOIN vms v ON v.migration = m.id"
                " WHERE m.source = ? OR m.destination = ?",
                (host, host),
            ).fetchone()
            if busy is not None:
                raise DriverError(f"host {host} takes part in a running migration")
            conn.execute("UPDATE hosts SET power_on = 0 WHERE name = ?", (host,))

    # -- views -------------------------------------------------------------------------------

    def hypervisor(
        self, host: str, *, poll_interval_s: float = 1.0, owns_fleet: bool = False
    ) -> SharedFleetHypervisor:
        """The hypervisor of one host of this fleet; with ``owns_fleet`` its ``close``
        closes the fleet too."""
        self.host_spec(host)
        return SharedFleetHypervisor(
            self, host, poll_interval_s=poll_interval_s, owns_fleet=owns_fleet
        )

    def power(self) -> SharedFleetPower:
        """A power driver for this fleet's hosts."""
        return SharedFleetPower(self)


def _vm_row(host: str, spec: FleetVmSpec) -> tuple[Any, ...]:
    trace = np.asarray(spec.trace.fractions, dtype=np.float64).tobytes()
    return (spec.uuid, spec.name, spec.vcpus, spec.ram_mb, host, spec.trace.sample_s, trace)


def _host_spec(row: sqlite3.Row) -> FleetHostSpec:
    return FleetHostSpec(
        str(row["name"]),
        int(row["cores"]),
        float(row["core_mhz"]),
        int(row["ram_mb"]),
        float(row["overhead_cores"]),
    )


def _tuning(row: sqlite3.Row) -> CpuTuning:
    return CpuTuning(shares=row["shares"], quota_us=row["quota_us"], period_us=row["period_us"])


def _check_initial_placement(
    hosts: Sequence[FleetHostSpec], vms: Sequence[tuple[str, FleetVmSpec]]
) -> None:
    ram = {h.name: h.ram_mb for h in hosts}
    seen: set[str] = set()
    for host, vm in vms:
        if host not in ram:
            raise ParameterError(f"VM {vm.name} is placed on unknown host {host!r}")
        if vm.uuid in seen:
            raise ParameterError(f"VM {vm.uuid} is listed twice")
        seen.add(vm.uuid)
        ram[host] -= vm.ram_mb
        if ram[host] < 0:
            raise ParameterError(f"the VMs placed on {host} need more RAM than it has")


class SharedFleetHypervisor(FleetHostView):
    """The :class:`~fleetwise.drivers.hypervisor.base.Hypervisor` of one shared-fleet host.

    ``migrate`` waits on the fleet's clock, checking every ``poll_interval_s`` simulated
    seconds (or sooner when the migration is due).
    """

    def __init__(
        self,
        fleet: SharedFleet,
        host: str,
        *,
        poll_interval_s: float = 1.0,
        owns_fleet: bool = False,
    ) -> None:
        super().__init__(fleet, host, poll_interval_s)
        self._owns_fleet = owns_fleet
        self._shared = fleet

    def close(self) -> None:
        """Detach from the fleet (closing it if owned); later calls raise DriverError."""
        super().close()
        if self._owns_fleet:
            self._shared.close()


class SharedFleetPower:
    """A :class:`~fleetwise.drivers.power.base.PowerDriver` for the hosts of a shared fleet.

    Hosts sleep at once and are ON ``wake_latency_s`` simulated seconds after a wake-up.
    """

    def __init__(self, fleet: SharedFleet) -> None:
        self._fleet = fleet

    def _known(self, host: str) -> None:
        try:
            self._fleet.host_spec(host)
        except DriverError as exc:
            raise ParameterError(str(exc)) from exc

    def wake(self, host: str) -> None:
        """Start waking the host; a host already on or waking is left alone."""
        self._known(host)
        self._fleet.wake(host)

    def sleep(self, host: str) -> None:
        """Put the host to sleep at once."""
        self._known(host)
        self._fleet.sleep(host)

    def status(self, host: str) -> PowerState:
        """ON once awake, OFF while asleep or still waking."""
        self._known(host)
        return self._fleet.power_status(host)


if TYPE_CHECKING:
    _implements_hypervisor: type[Hypervisor] = SharedFleetHypervisor
    _implements_power: type[PowerDriver] = SharedFleetPower
