"""An in-memory fleet of simulated hosts for demos and tests.

One :class:`SimulatedFleet` holds every host and VM; :meth:`SimulatedFleet.hypervisor`
gives each agent a per-host :class:`SimulatedHypervisor`. Time comes from the
:class:`~fleetwise.drivers.clock.Clock` the fleet is given. VM CPU use follows a
:class:`~fleetwise.drivers.hypervisor.cpu_trace.CpuTrace`; demand is always granted
(there is no contention model), so an oversubscribed host reports more busy time than
its capacity. A migration takes ``ram_mb / bandwidth_mb_s`` seconds, during which the
VM keeps running on the source (listed there as MIGRATING) and is not listed on the
destination. As with QEMU, the VM's CPU-time counter restarts on the destination.
"""

from __future__ import annotations

import math
import threading
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.clock import Clock
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
from fleetwise.drivers.power.base import PowerState
from fleetwise.errors import DriverError, ParameterError
from fleetwise.ids import check_vm_uuid

__all__ = [
    "MigrationRecord",
    "SimulatedFleet",
    "SimulatedHost",
    "SimulatedHypervisor",
    "SimulatedVm",
]

_HOST_NAMESPACE = uuid_module.UUID("5d6f1c52-4a53-4c1e-9b8e-1f2b4c6d7e80")
_MIN_STEP_S = 1e-3


@dataclass(frozen=True)
class SimulatedHost:
    """A simulated host; ``overhead_cores`` of CPU go to the hypervisor itself."""

    name: str
    cores: int
    core_mhz: float
    ram_mb: int
    overhead_cores: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ParameterError("a host needs a name")
        if self.cores < 1 or self.ram_mb < 1:
            raise ParameterError(f"host {self.name}: cores and ram_mb must be >= 1")
        if not (math.isfinite(self.core_mhz) and self.core_mhz > 0):
            raise ParameterError(f"host {self.name}: core_mhz must be positive")
        if not (math.isfinite(self.overhead_cores) and 0 <= self.overhead_cores <= self.cores):
            raise ParameterError(f"host {self.name}: overhead_cores must be in [0, cores]")

    @property
    def uuid(self) -> str:
        """A UUID derived from the host name."""
        return str(uuid_module.uuid5(_HOST_NAMESPACE, self.name))


@dataclass(frozen=True)
class SimulatedVm:
    """A simulated VM whose CPU demand follows ``trace``."""

    uuid: str
    name: str
    vcpus: int
    ram_mb: int
    trace: CpuTrace

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", check_vm_uuid(self.uuid))
        if self.vcpus < 1 or self.ram_mb < 1:
            raise ParameterError(f"VM {self.name}: vcpus and ram_mb must be >= 1")


@dataclass(frozen=True)
class MigrationRecord:
    """One migration attempt; ``outcome`` and ``finished_at`` are None while it runs."""

    ticket: int
    uuid: str
    source: str
    destination: str
    started_at: float
    expected_end: float
    ram_mb: int
    finished_at: float | None = None
    outcome: MigrationOutcome | None = None
    message: str = ""


@dataclass
class _Host:
    spec: SimulatedHost
    started_at: float
    departed_busy_s: float = 0.0


@dataclass
class _Vm:
    spec: SimulatedVm
    host: str
    anchor_t: float
    anchor_busy_s: float = 0.0
    tuning: CpuTuning = field(default_factory=CpuTuning)
    migration: int | None = None


@dataclass
class _FailurePlan:
    remaining: int
    message: str
    at_fraction: float


class SimulatedFleet:
    """Hosts and VMs in memory, driven by ``clock``; safe to share between threads.

    ``power_status`` (e.g. a simulated power driver's ``status``) makes hosts that are
    not ON unreachable: their hypervisor calls raise DriverError and they accept no
    incoming migrations.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        bandwidth_mb_s: float = 100.0,
        trace_origin: float | None = None,
        power_status: Callable[[str], PowerState] | None = None,
    ) -> None:
        if not (math.isfinite(bandwidth_mb_s) and bandwidth_mb_s > 0):
            raise ParameterError(f"bandwidth_mb_s must be positive, got {bandwidth_mb_s}")
        self.clock = clock
        self._bandwidth = bandwidth_mb_s
        self._origin = clock.now() if trace_origin is None else trace_origin
        self._power_status = power_status
        self._lock = threading.RLock()
        self._hosts: dict[str, _Host] = {}
        self._vms: dict[str, _Vm] = {}
        self._migrations: list[MigrationRecord] = []
        self._failures: dict[str, _FailurePlan] = {}
        self._doomed: dict[int, str] = {}  # ticket -> failure message

    # -- building the fleet -------------------------------------------------------------

    def add_host(self, spec: SimulatedHost) -> SimulatedHypervisor:
        """Add a host; returns its hypervisor view."""
        with self._lock:
            if spec.name in self._hosts:
                raise ParameterError(f"host {spec.name} already exists")
            self._hosts[spec.name] = _Host(spec, started_at=self.clock.now())
        return SimulatedHypervisor(self, spec.name)

    def add_vm(self, host: str, spec: SimulatedVm) -> None:
        """Start a VM on ``host``; the trace is read relative to the fleet's trace origin."""
        with self._lock:
            self._settle()
            self._host(host)
            if spec.uuid in self._vms:
                raise ParameterError(f"VM {spec.uuid} already exists")
            now = self.clock.now()
            if now < self._origin:
                raise ParameterError("cannot start a VM before the trace origin")
            self._vms[spec.uuid] = _Vm(spec, host=host, anchor_t=now)

    def remove_vm(self, uuid: str) -> None:
        """Stop and forget a VM; its CPU time so far stays in its host's busy time."""
        with self._lock:
            self._settle()
            vm = self._vm(uuid)
            if vm.migration is not None:
                raise DriverError(f"VM {vm.spec.uuid} is migrating")
            now = self.clock.now()
            self._hosts[vm.host].departed_busy_s += self._busy_s(vm, now)
            del self._vms[vm.spec.uuid]

    def hypervisor(self, host: str) -> SimulatedHypervisor:
        """A hypervisor view of one host."""
        with self._lock:
            self._host(host)
        return SimulatedHypervisor(self, host)

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
        with self._lock:
            vm = self._vm(uuid)
            self._failures[vm.spec.uuid] = _FailurePlan(count, message, at_fraction)

    # -- inspection -----------------------------------------------------------------------

    def hosts(self) -> list[str]:
        """Names of all hosts."""
        with self._lock:
            return list(self._hosts)

    def locate(self, uuid: str) -> str | None:
        """The host the VM runs on, or None if there is no such VM."""
        with self._lock:
            self._settle()
            vm = self._vms.get(check_vm_uuid(uuid))
            return vm.host if vm else None

    def migration_history(self) -> tuple[MigrationRecord, ...]:
        """Every migration attempt so far, oldest first."""
        with self._lock:
            self._settle()
            return tuple(self._migrations)

    def migration_status(self, ticket: int) -> MigrationRecord:
        """The current record of one migration."""
        with self._lock:
            self._settle()
            if not 0 <= ticket < len(self._migrations):
                raise ParameterError(f"no migration with ticket {ticket}")
            return self._migrations[ticket]

    # -- per-host queries (what each SimulatedHypervisor answers) --------------------------

    def host_info(self, host: str) -> HostInfo:
        """Static facts about ``host``."""
        with self._lock:
            self._query(host)
            spec = self._hosts[host].spec
            return HostInfo(spec.name, spec.cores, spec.core_mhz, spec.ram_mb, spec.uuid)

    def list_vms(self, host: str) -> list[VmInfo]:
        """VMs on ``host``; one migrating away is listed as MIGRATING."""
        with self._lock:
            self._query(host)
            return [
                VmInfo(
                    uuid=vm.spec.uuid,
                    name=vm.spec.name,
                    state=VmState.MIGRATING if vm.migration is not None else VmState.RUNNING,
                    vcpus=vm.spec.vcpus,
                    ram_mb=vm.spec.ram_mb,
                )
                for vm in self._vms.values()
                if vm.host == host
            ]

    def has_vm(self, host: str, uuid: str) -> bool:
        """Whether the VM runs on ``host``."""
        with self._lock:
            self._query(host)
            vm = self._vms.get(check_vm_uuid(uuid))
            return vm is not None and vm.host == host

    def vm_cpu_time_ns(self, host: str, uuid: str) -> int:
        """CPU time the VM used on ``host``, summed over its vCPUs."""
        with self._lock:
            now = self._query(host)
            return round(self._busy_s(self._vm_on(host, uuid), now) * 1e9)

    def host_cpu_times(self, host: str) -> HostCpuTimes:
        """Busy time (VMs, departed VMs, overhead) and total time of all cores."""
        with self._lock:
            now = self._query(host)
            state = self._hosts[host]
            elapsed = now - state.started_at
            busy = state.departed_busy_s + state.spec.overhead_cores * elapsed
            busy += sum(self._busy_s(vm, now) for vm in self._vms.values() if vm.host == host)
            return HostCpuTimes(
                busy_ns=round(busy * 1e9), total_ns=round(state.spec.cores * elapsed * 1e9)
            )

    def set_cpu_tuning(self, host: str, uuid: str, tuning: CpuTuning) -> None:
        """Merge ``tuning`` into the VM's settings; a quota caps its CPU use from now on."""
        with self._lock:
            now = self._query(host)
            vm = self._vm_on(host, uuid)
            merged = CpuTuning(
                shares=tuning.shares if tuning.shares is not None else vm.tuning.shares,
                quota_us=tuning.quota_us if tuning.quota_us is not None else vm.tuning.quota_us,
                period_us=tuning.period_us if tuning.period_us is not None else vm.tuning.period_us,
            )
            vm.anchor_busy_s = self._busy_s(vm, now)
            vm.anchor_t = now
            vm.tuning = merged

    def cpu_tuning(self, host: str, uuid: str) -> CpuTuning:
        """The VM's tuning so far (all None when never tuned)."""
        with self._lock:
            self._query(host)
            return self._vm_on(host, uuid).tuning

    def migration_progress(self, ticket: int) -> MigrationProgress:
        """How far a migration has come, by elapsed share of its nominal duration."""
        with self._lock:
            record = self.migration_status(ticket)
            elapsed = self.clock.now() - record.started_at
            total = record.ram_mb * 1024 * 1024
            duration = record.ram_mb / self._bandwidth
            done = min(total, round(total * elapsed / duration))
            return MigrationProgress(record.uuid, elapsed, total, done, total - done)

    # -- migrations -----------------------------------------------------------------------

    def start_migration(self, uuid: str, destination: str) -> int:
        """Begin moving a VM; returns a ticket for :meth:`migration_status`."""
        with self._lock:
            self._settle()
            vm = self._vm(uuid)
            if vm.migration is not None:
                raise DriverError(f"VM {vm.spec.uuid} is already migrating")
            if destination == vm.host:
                raise DriverError(f"VM {vm.spec.uuid} already runs on {destination}")
            self._require_powered(vm.host)
            self._require_powered(destination)
            free = self._free_ram_mb(destination)
            if vm.spec.ram_mb > free:
                raise DriverError(
                    f"{destination} has {free} MB RAM free, VM {vm.spec.uuid} needs "
                    f"{vm.spec.ram_mb} MB"
                )
            now = self.clock.now()
            duration = vm.spec.ram_mb / self._bandwidth
            record = MigrationRecord(
                ticket=len(self._migrations),
                uuid=vm.spec.uuid,
                source=vm.host,
                destination=destination,
                started_at=now,
                expected_end=now + duration,
                ram_mb=vm.spec.ram_mb,
            )
            plan = self._failures.get(vm.spec.uuid)
            if plan is not None and plan.remaining > 0:
                plan.remaining -= 1
                record = replace(record, expected_end=now + plan.at_fraction * duration)
                self._doomed[record.ticket] = plan.message
            self._migrations.append(record)
            vm.migration = record.ticket
            return record.ticket

    def abort_migration(self, uuid: str, message: str = "aborted") -> bool:
        """Stop the VM's migration; it stays on the source. False if none was running."""
        with self._lock:
            self._settle()
            vm = self._vm(uuid)
            if vm.migration is None:
                return False
            self._finish(vm, MigrationOutcome.FAILED, self.clock.now(), message)
            return True

    def _settle(self) -> None:
        """Finish every migration whose end time has passed (caller holds the lock)."""
        now = self.clock.now()
        for vm in self._vms.values():
            if vm.migration is None:
                continue
            record = self._migrations[vm.migration]
            if record.expected_end > now:
                continue
            doomed = self._doomed.pop(record.ticket, None)
            if doomed is not None:
                self._finish(vm, MigrationOutcome.FAILED, record.expected_end, doomed)
            else:
                self._finish(vm, MigrationOutcome.SUCCEEDED, record.expected_end)

    def _finish(self, vm: _Vm, outcome: MigrationOutcome, at: float, message: str = "") -> None:
        assert vm.migration is not None
        record = self._migrations[vm.migration]
        self._doomed.pop(record.ticket, None)
        if outcome is MigrationOutcome.SUCCEEDED:
            self._hosts[vm.host].departed_busy_s += self._busy_s(vm, at)
            vm.host = record.destination
            vm.anchor_t = at
            vm.anchor_busy_s = 0.0
        self._migrations[vm.migration] = replace(
            record, finished_at=at, outcome=outcome, message=message
        )
        vm.migration = None

    # -- internals ------------------------------------------------------------------------

    def _host(self, name: str) -> _Host:
        host = self._hosts.get(name)
        if host is None:
            raise DriverError(f"no simulated host {name!r}")
        return host

    def _vm(self, uuid: str) -> _Vm:
        vm = self._vms.get(check_vm_uuid(uuid))
        if vm is None:
            raise DriverError(f"no VM {uuid} in the simulated fleet")
        return vm

    def _vm_on(self, host: str, uuid: str) -> _Vm:
        vm = self._vm(uuid)
        if vm.host != host:
            raise DriverError(f"no VM {uuid} on {host}")
        return vm

    def _require_powered(self, host: str) -> None:
        self._host(host)
        if self._power_status is not None:
            state = self._power_status(host)
            if state is not PowerState.ON:
                raise DriverError(f"host {host} is not reachable (power {state.value})")

    def _free_ram_mb(self, host: str) -> int:
        used = sum(vm.spec.ram_mb for vm in self._vms.values() if vm.host == host)
        incoming = sum(
            self._migrations[vm.migration].ram_mb
            for vm in self._vms.values()
            if vm.migration is not None and self._migrations[vm.migration].destination == host
        )
        return self._hosts[host].spec.ram_mb - used - incoming

    def _cap(self, vm: _Vm) -> float | None:
        return vm.tuning.cap_cores()

    def _busy_s(self, vm: _Vm, t: float) -> float:
        """CPU seconds the VM used on its current host up to ``t``."""
        trace, vcpus, cap = vm.spec.trace, vm.spec.vcpus, self._cap(vm)
        since = trace.busy_seconds(vm.anchor_t - self._origin, vcpus, cap)
        until = trace.busy_seconds(t - self._origin, vcpus, cap)
        return vm.anchor_busy_s + until - since

    def _query(self, host: str) -> float:
        """Settle, check the host is up, and return the current time (lock held)."""
        self._settle()
        self._require_powered(host)
        return self.clock.now()


class SimulatedHypervisor(FleetHostView):
    """The :class:`~fleetwise.drivers.hypervisor.base.Hypervisor` of one in-memory fleet host.

    ``migrate`` blocks by sleeping on the fleet's clock in steps of ``poll_interval_s``
    (with a manual clock, sleeping advances virtual time for everyone).
    """

    def __init__(self, fleet: SimulatedFleet, host: str, poll_interval_s: float = 1.0) -> None:
        super().__init__(fleet, host, poll_interval_s)


if TYPE_CHECKING:
    _implements_protocol: type[Hypervisor] = SimulatedHypervisor
