"""What callers hand to the store: validated, frozen input records.

Each record checks itself when built and raises :class:`ParameterError` with one
clear message, so bad input never reaches a transaction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from fleetwise.core.lifecycle import ActionKind, PlanMode, VmState
from fleetwise.errors import InputError, ParameterError
from fleetwise.ids import check_host_name, check_vm_uuid
from fleetwise.store.coltypes import require_utc

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "ActionDraft",
    "HostSampleIn",
    "HostSpec",
    "PlanDraft",
    "ReportedVm",
    "VmSampleIn",
]

DEFAULT_MAX_ATTEMPTS = 3
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_NAME_MAX = 255


def _utc(value: datetime, what: str) -> datetime:
    try:
        return require_utc(value, what)
    except InputError as exc:
        raise ParameterError(str(exc)) from None


def _name(value: str, what: str) -> None:
    if not value or len(value) > _NAME_MAX or value != value.strip():
        raise ParameterError(f"{what} must be 1-{_NAME_MAX} characters without edge spaces")


def _positive(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{what} must be a positive integer, got {value!r}")


def _mhz(what: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ParameterError(f"{what} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class HostSpec:
    """A host as its agent describes it; ``cpu_mhz`` is the share usable by VMs."""

    name: str
    cpu_cores: int
    core_mhz: int
    cpu_mhz: int
    ram_mb: int
    mac: str | None = None
    power_address: str | None = None
    power_kind: str | None = None
    hypervisor_uri: str | None = None  # where peers migrate to
    migration_uri: str | None = None  # a separate migration URI, if any

    def __post_init__(self) -> None:
        check_host_name(self.name)
        for what in ("hypervisor_uri", "migration_uri"):
            uri = getattr(self, what)
            if uri is not None and not 0 < len(uri) <= 512:
                raise ParameterError(f"{what} must be 1-512 characters")
        for what in ("cpu_cores", "core_mhz", "cpu_mhz", "ram_mb"):
            _positive(what, getattr(self, what))
        if self.cpu_mhz > self.cpu_cores * self.core_mhz:
            raise ParameterError(
                f"cpu_mhz {self.cpu_mhz} exceeds cpu_cores × core_mhz "
                f"({self.cpu_cores} × {self.core_mhz})"
            )
        if self.mac is not None:
            if not _MAC.match(self.mac.lower()):
                raise ParameterError(f"not a MAC address: {self.mac!r}")
            object.__setattr__(self, "mac", self.mac.lower())
        if self.power_address is not None:
            _name(self.power_address, "power address")
        if self.power_kind is not None and not (0 < len(self.power_kind) <= 32):
            raise ParameterError("power kind must be 1-32 characters")


@dataclass(frozen=True, slots=True)
class ReportedVm:
    """One VM as a host's agent reports it."""

    uuid: str
    state: VmState
    ram_mb: int
    vcpus: int
    capacity_mhz: int
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", check_vm_uuid(self.uuid))
        if not isinstance(self.state, VmState):
            raise ParameterError(f"unknown VM state {self.state!r}")
        _positive("ram_mb", self.ram_mb)
        _positive("vcpus", self.vcpus)
        if isinstance(self.capacity_mhz, bool) or self.capacity_mhz < 0:
            raise ParameterError(f"capacity_mhz must be >= 0, got {self.capacity_mhz!r}")
        if self.name is not None:
            _name(self.name, "VM name")


@dataclass(frozen=True, slots=True)
class VmSampleIn:
    """CPU use of a VM over the interval ending at ``ts``."""

    vm_uuid: str
    ts: datetime
    cpu_mhz: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "vm_uuid", check_vm_uuid(self.vm_uuid))
        object.__setattr__(self, "ts", _utc(self.ts, "sample time"))
        _mhz("cpu_mhz", self.cpu_mhz)


@dataclass(frozen=True, slots=True)
class HostSampleIn:
    """CPU use of a host, and the hypervisor's share of it, over the interval ending at ``ts``."""

    host: str
    ts: datetime
    host_cpu_mhz: float
    hypervisor_mhz: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", _utc(self.ts, "sample time"))
        _mhz("host_cpu_mhz", self.host_cpu_mhz)
        _mhz("hypervisor_mhz", self.hypervisor_mhz)


@dataclass(frozen=True, slots=True)
class ActionDraft:
    """One action of a plan to be created (see :meth:`migrate`, :meth:`wake`, :meth:`sleep`)."""

    kind: ActionKind
    wave: int = 0
    vm_uuid: str | None = None
    source_host: str | None = None
    destination_host: str | None = None
    host: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ActionKind):
            raise ParameterError(f"unknown action kind {self.kind!r}")
        if isinstance(self.wave, bool) or self.wave < 0:
            raise ParameterError(f"wave must be an integer >= 0, got {self.wave!r}")
        _positive("max_attempts", self.max_attempts)
        if self.kind is ActionKind.MIGRATE:
            if self.vm_uuid is None or self.source_host is None or self.destination_host is None:
                raise ParameterError("a migration needs a VM, a source and a destination host")
            if self.host is not None:
                raise ParameterError("a migration names source and destination, not a host")
            if self.source_host == self.destination_host:
                raise ParameterError(f"migration of {self.vm_uuid} from a host to itself")
            object.__setattr__(self, "vm_uuid", check_vm_uuid(self.vm_uuid))
        elif self.host is None or any(
            v is not None for v in (self.vm_uuid, self.source_host, self.destination_host)
        ):
            raise ParameterError(f"a {self.kind.value} action names exactly one host")

    @classmethod
    def migrate(
        cls,
        vm_uuid: str,
        source_host: str,
        destination_host: str,
        *,
        wave: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> ActionDraft:
        """Live-migrate ``vm_uuid`` from ``source_host`` to ``destination_host``."""
        return cls(
            ActionKind.MIGRATE, wave, vm_uuid, source_host, destination_host, None, max_attempts
        )

    @classmethod
    def wake(
        cls, host: str, *, wave: int = 0, max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> ActionDraft:
        """Wake ``host`` up."""
        return cls(ActionKind.WAKE, wave, host=host, max_attempts=max_attempts)

    @classmethod
    def sleep(
        cls, host: str, *, wave: int = 0, max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> ActionDraft:
        """Put ``host`` to sleep."""
        return cls(ActionKind.SLEEP, wave, host=host, max_attempts=max_attempts)


@dataclass(frozen=True, slots=True)
class PlanDraft:
    """A plan to be created: its actions in order, and what it is for."""

    mode: PlanMode
    reason: str
    actions: tuple[ActionDraft, ...]
    expires_at: datetime | None = None
    source_host: str | None = None
    request_id: int | None = None
    drained: tuple[str, ...] = ()
    """Hosts in maintenance the plan empties."""

    def __post_init__(self) -> None:
        if not isinstance(self.mode, PlanMode):
            raise ParameterError(f"unknown plan mode {self.mode!r}")
        _name(self.reason, "plan reason")
        object.__setattr__(self, "actions", tuple(self.actions))
        if not self.actions:
            raise ParameterError("a plan needs at least one action")
        waves = [a.wave for a in self.actions]
        if waves != sorted(waves):
            raise ParameterError(f"actions must be listed in wave order, got waves {waves}")
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", _utc(self.expires_at, "plan expiry"))
