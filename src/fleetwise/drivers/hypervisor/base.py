"""The hypervisor driver interface and the values that cross it.

An agent talks to its host's hypervisor only through :class:`Hypervisor`. Values are
frozen dataclasses; a failing hypervisor raises :class:`fleetwise.errors.DriverError`,
bad arguments raise :class:`fleetwise.errors.ParameterError`. A migration that fails or
times out is an expected outcome and comes back as a :class:`MigrationResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.errors import ParameterError

__all__ = [
    "DEFAULT_MIGRATION_TIMEOUT_S",
    "CpuTuning",
    "HostCpuTimes",
    "HostInfo",
    "Hypervisor",
    "MigrationProgress",
    "MigrationResult",
    "MigrationTarget",
    "ProgressCallback",
    "VmInfo",
    "VmState",
]

DEFAULT_MIGRATION_TIMEOUT_S = 600.0

# Limits of the Linux CFS scheduler as exposed by libvirt.
_SHARES_RANGE = (2, 262_144)
_PERIOD_RANGE_US = (1_000, 1_000_000)
_QUOTA_RANGE_US = (1_000, 17_592_186_044_415)


class VmState(StrEnum):
    """Lifecycle state of a VM as the hypervisor reports it."""

    RUNNING = "running"
    PAUSED = "paused"
    MIGRATING = "migrating"
    STOPPING = "stopping"
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Static facts about a host: CPU capacity is ``cores × core_mhz``.

    ``uuid`` is ``None`` when the hypervisor does not report one.
    """

    hostname: str
    cores: int
    core_mhz: float
    ram_mb: int
    uuid: str | None

    @property
    def total_mhz(self) -> float:
        """The host's CPU capacity in MHz."""
        return self.cores * self.core_mhz


@dataclass(frozen=True, slots=True)
class VmInfo:
    """One VM known to a hypervisor."""

    uuid: str
    name: str
    state: VmState
    vcpus: int
    ram_mb: int


@dataclass(frozen=True, slots=True)
class HostCpuTimes:
    """Cumulative host CPU time: busy and total, summed over all cores, in ns."""

    busy_ns: int
    total_ns: int

    def utilisation_since(self, earlier: HostCpuTimes) -> float:
        """Fraction of the host's CPU capacity used between ``earlier`` and this reading.

        Returns 0.0 when no time has passed (or the counters went backwards). Above 1.0
        only on an oversubscribed simulated host.
        """
        total = self.total_ns - earlier.total_ns
        if total <= 0:
            return 0.0
        return max(0.0, (self.busy_ns - earlier.busy_ns) / total)


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True, slots=True)
class CpuTuning:
    """CFS scheduler settings of a VM; ``None`` means "leave as it is".

    ``shares`` is the VM's relative weight under contention. ``quota_us`` per
    ``period_us`` caps the whole VM (all vCPUs together) at ``quota/period`` cores;
    a quota of -1 removes the cap. Out-of-range values raise ParameterError.
    """

    shares: int | None = None
    quota_us: int | None = None
    period_us: int | None = None

    def __post_init__(self) -> None:
        if self.shares is not None:
            _check_range("shares", self.shares, _SHARES_RANGE)
        if self.period_us is not None:
            _check_range("period_us", self.period_us, _PERIOD_RANGE_US)
        if self.quota_us is not None and self.quota_us != -1:
            _check_range("quota_us (or -1 for no cap)", self.quota_us, _QUOTA_RANGE_US)

    def cap_cores(self, default_period_us: int = 100_000) -> float | None:
        """The CPU cap in cores, or ``None`` when uncapped or unknown."""
        if self.quota_us is None or self.quota_us < 0:
            return None
        return self.quota_us / (self.period_us or default_period_us)


@dataclass(frozen=True, slots=True)
class MigrationTarget:
    """Where to migrate a VM.

    ``host`` names the destination host. ``uri`` is the hypervisor connection URI of
    the destination (drivers that need one derive it from ``host`` when omitted);
    ``migration_uri`` is the address the data stream goes to, e.g. ``tcp://10.0.0.2``.
    """

    host: str
    uri: str | None = None
    migration_uri: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationProgress:
    """A snapshot of a running migration. Byte counts are 0 while unknown."""

    uuid: str
    elapsed_s: float
    data_total_bytes: int = 0
    data_processed_bytes: int = 0
    data_remaining_bytes: int = 0

    @property
    def fraction(self) -> float | None:
        """Share of the data already sent, or ``None`` while the total is unknown."""
        if self.data_total_bytes <= 0:
            return None
        return min(1.0, self.data_processed_bytes / self.data_total_bytes)


ProgressCallback = Callable[[MigrationProgress], None]


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """The end of one migration attempt."""

    uuid: str
    destination: str
    outcome: MigrationOutcome
    duration_s: float
    message: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration_s) or self.duration_s < 0:
            raise ParameterError(f"duration_s must be finite and >= 0, got {self.duration_s}")

    @property
    def succeeded(self) -> bool:
        """Whether the VM now runs on the destination."""
        return self.outcome is MigrationOutcome.SUCCEEDED


class Hypervisor(Protocol):
    """What an agent may ask of its host's hypervisor.

    Every method raises :class:`fleetwise.errors.DriverError` when the hypervisor
    fails or does not know the VM.
    """

    def host_info(self) -> HostInfo:
        """Static facts about this host."""
        ...

    def list_vms(self) -> list[VmInfo]:
        """Every VM this host knows, in any state."""
        ...

    def has_vm(self, uuid: str) -> bool:
        """Whether this host knows the VM."""
        ...

    def vm_cpu_time_ns(self, uuid: str) -> int:
        """Cumulative CPU time of a running VM, summed over all its vCPUs."""
        ...

    def host_cpu_times(self) -> HostCpuTimes:
        """Cumulative busy and total CPU time of the whole host."""
        ...

    def migrate(
        self,
        uuid: str,
        destination: MigrationTarget,
        *,
        progress: ProgressCallback | None = None,
        timeout_s: float = DEFAULT_MIGRATION_TIMEOUT_S,
    ) -> MigrationResult:
        """Live-migrate a VM and wait for the end.

        ``progress`` is called from the calling thread while the migration runs. After
        ``timeout_s`` the migration is aborted and the result says TIMED_OUT. Raises
        DriverError only when the VM is not on this host.
        """
        ...

    def abort_migration(self, uuid: str) -> bool:
        """Abort the VM's running migration; False when none was running."""
        ...

    def set_cpu_tuning(
        self,
        uuid: str,
        *,
        shares: int | None = None,
        quota_us: int | None = None,
        period_us: int | None = None,
    ) -> None:
        """Change a running VM's CPU share and cap (see :class:`CpuTuning`)."""
        ...

    def cpu_tuning(self, uuid: str) -> CpuTuning:
        """A running VM's current CPU share and cap."""
        ...

    def close(self) -> None:
        """Release the connection; later calls fail."""
        ...
