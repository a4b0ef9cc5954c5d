"""The per-host hypervisor view shared by the in-memory and the file-backed simulated fleets.

A fleet backend holds every host's VMs and the migrations between them; a
:class:`FleetHostView` is what one agent sees of it, implementing the
:class:`~fleetwise.drivers.hypervisor.base.Hypervisor` protocol.
"""

from __future__ import annotations

import math
from typing import Protocol

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import (
    DEFAULT_MIGRATION_TIMEOUT_S,
    CpuTuning,
    HostCpuTimes,
    HostInfo,
    MigrationProgress,
    MigrationResult,
    MigrationTarget,
    ProgressCallback,
    VmInfo,
)
from fleetwise.errors import DriverError, ParameterError

__all__ = ["FleetBackend", "FleetHostView"]

_MIN_STEP_S = 1e-3


class _MigrationState(Protocol):
    @property
    def outcome(self) -> MigrationOutcome | None: ...
    @property
    def finished_at(self) -> float | None: ...
    @property
    def message(self) -> str: ...
    @property
    def expected_end(self) -> float: ...


class _Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> object: ...


class FleetBackend(Protocol):
    """What a fleet offers its host views (all host-scoped calls name the host)."""

    @property
    def clock(self) -> _Clock: ...
    def host_info(self, host: str) -> HostInfo: ...
    def list_vms(self, host: str) -> list[VmInfo]: ...
    def has_vm(self, host: str, uuid: str) -> bool: ...
    def vm_cpu_time_ns(self, host: str, uuid: str) -> int: ...
    def host_cpu_times(self, host: str) -> HostCpuTimes: ...
    def set_cpu_tuning(self, host: str, uuid: str, tuning: CpuTuning) -> None: ...
    def cpu_tuning(self, host: str, uuid: str) -> CpuTuning: ...
    def abort_migration(self, uuid: str, message: str = ...) -> bool: ...
    def start_migration(self, uuid: str, destination: str) -> int: ...
    def migration_status(self, ticket: int) -> _MigrationState: ...
    def migration_progress(self, ticket: int) -> MigrationProgress: ...


class FleetHostView:
    """The :class:`~fleetwise.drivers.hypervisor.base.Hypervisor` of one host of a simulated fleet.

    ``migrate`` blocks by sleeping on the fleet's clock in steps of ``poll_interval_s``
    (with a manual clock, sleeping advances virtual time for everyone).
    """

    def __init__(self, fleet: FleetBackend, host: str, poll_interval_s: float = 1.0) -> None:
        if not (math.isfinite(poll_interval_s) and poll_interval_s > 0):
            raise ParameterError(f"poll_interval_s must be positive, got {poll_interval_s}")
        self._fleet = fleet
        self._host = host
        self._poll_interval_s = poll_interval_s
        self._closed = False

    @property
    def host(self) -> str:
        """The host this view belongs to."""
        return self._host

    def _open_fleet(self) -> FleetBackend:
        if self._closed:
            raise DriverError(f"hypervisor view of {self._host} is closed")
        return self._fleet

    def host_info(self) -> HostInfo:
        """Static facts about this host."""
        return self._open_fleet().host_info(self._host)

    def list_vms(self) -> list[VmInfo]:
        """VMs on this host; one migrating away is listed as MIGRATING."""
        return self._open_fleet().list_vms(self._host)

    def has_vm(self, uuid: str) -> bool:
        """Whether the VM runs on this host."""
        return self._open_fleet().has_vm(self._host, uuid)

    def vm_cpu_time_ns(self, uuid: str) -> int:
        """CPU time the VM used on this host, over all vCPUs."""
        return self._open_fleet().vm_cpu_time_ns(self._host, uuid)

    def host_cpu_times(self) -> HostCpuTimes:
        """Busy time of the VMs plus overhead, and total time of all cores."""
        return self._open_fleet().host_cpu_times(self._host)

    def set_cpu_tuning(
        self,
        uuid: str,
        *,
        shares: int | None = None,
        quota_us: int | None = None,
        period_us: int | None = None,
    ) -> None:
        """Record the tuning; a quota caps the VM's CPU use from now on."""
        tuning = CpuTuning(shares=shares, quota_us=quota_us, period_us=period_us)
        self._open_fleet().set_cpu_tuning(self._host, uuid, tuning)

    def cpu_tuning(self, uuid: str) -> CpuTuning:
        """The tuning set so far (all None when never tuned)."""
        return self._open_fleet().cpu_tuning(self._host, uuid)

    def abort_migration(self, uuid: str) -> bool:
        """Abort the VM's migration away from this host."""
        fleet = self._open_fleet()
        if not fleet.has_vm(self._host, uuid):
            raise DriverError(f"no VM {uuid} on {self._host}")
        return fleet.abort_migration(uuid)

    def migrate(
        self,
        uuid: str,
        destination: MigrationTarget,
        *,
        progress: ProgressCallback | None = None,
        timeout_s: float = DEFAULT_MIGRATION_TIMEOUT_S,
    ) -> MigrationResult:
        """Move the VM to ``destination.host``, sleeping on the clock until it ends."""
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ParameterError(f"timeout_s must be positive, got {timeout_s}")
        fleet = self._open_fleet()
        if not fleet.has_vm(self._host, uuid):
            raise DriverError(f"no VM {uuid} on {self._host}")
        clock = fleet.clock
        started = clock.now()
        try:
            ticket = fleet.start_migration(uuid, destination.host)
        except DriverError as exc:
            return MigrationResult(uuid, destination.host, MigrationOutcome.FAILED, 0.0, str(exc))
        deadline = started + timeout_s
        while True:
            record = fleet.migration_status(ticket)
            if record.outcome is not None and record.finished_at is not None:
                return MigrationResult(
                    uuid,
                    destination.host,
                    record.outcome,
                    max(0.0, record.finished_at - started),
                    record.message,
                )
            now = clock.now()
            if now >= deadline:
                fleet.abort_migration(uuid, f"timed out after {timeout_s:g} s")
                return MigrationResult(
                    uuid,
                    destination.host,
                    MigrationOutcome.TIMED_OUT,
                    now - started,
                    f"aborted after {timeout_s:g} s",
                )
            if progress is not None:
                try:
                    progress(fleet.migration_progress(ticket))
                except BaseException:
                    fleet.abort_migration(uuid, "progress callback failed")
                    raise
            step = min(self._poll_interval_s, record.expected_end - now, deadline - now)
            clock.sleep(max(step, _MIN_STEP_S))

    def close(self) -> None:
        """Detach from the fleet; later calls raise DriverError."""
        self._closed = True
