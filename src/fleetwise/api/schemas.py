"""Request and response bodies of the controller's REST API (version 1).

Every endpoint lives under ``/v1`` and needs ``Authorization: Bearer <token>``:
an agent's token (acting for its own host only) or the admin token.

Agent endpoints (agent token for ``{host}``, or admin):

* ``PUT  /v1/agents/{host}``               :class:`HostRegistration` → :class:`HostView`
* ``POST /v1/agents/{host}/heartbeat``     :class:`Heartbeat` → 204
* ``POST /v1/agents/{host}/samples``       :class:`SampleBatch` → :class:`IngestResult`
* ``PUT  /v1/reallocations``               :class:`ReallocationBody` → 202 :class:`Accepted`
  (412 when ``sent_at`` is older than the staleness window, 403 for a host that is
  not the caller's)
* ``GET  /v1/agents/{host}/assignments``   → ``list[Assignment]`` migrations this host must run
* ``POST /v1/actions/{id}/progress``       :class:`ActionProgress` → 204
* ``POST /v1/actions/{id}/result``         :class:`ActionResult` → 204

Admin endpoints: ``GET /v1/hosts``, ``GET /v1/hosts/{host}``, ``POST
/v1/hosts/{host}/maintenance`` (:class:`MaintenanceBody`), ``GET /v1/vms``, ``GET
/v1/plans``, ``GET /v1/plans/{id}``, ``POST /v1/plans/{id}/approve``, ``POST
/v1/plans/{id}/cancel``, ``POST /v1/actions/{id}/skip``, ``GET /v1/migrations``,
``GET /v1/stats`` (:class:`FleetStats`), ``GET /v1/health`` (:class:`Health`, any
principal); ``GET /metrics`` (Prometheus text format). ``GET /v1/migrations`` returns
``list[MigrationView]``.

Errors are ``{"detail": "<one clear sentence>"}``: 400 (not JSON), 401, 403, 404, 409
(the request conflicts with what the controller holds: VMs it does not know, a moment
in the future or older than the samples kept), 412 (a stale request), 413 (body too
large), 422 (input the published schema forbids), or 503 when the database or a driver
fails. VM UUIDs are hyphenated or 32 hex digits, answered in lower-case hyphenated form;
moments are RFC 3339 strings with their UTC offset.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from fleetwise.ids import HOST_NAME_PATTERN, VM_UUID_PATTERN

__all__ = [
    "Accepted",
    "ActionOut",
    "ActionProgress",
    "ActionResult",
    "Assignment",
    "Evacuation",
    "FleetStats",
    "Health",
    "Heartbeat",
    "HostName",
    "HostOut",
    "HostRegistration",
    "IngestResult",
    "MaintenanceBody",
    "MigrationOut",
    "OverloadRequest",
    "PlanOut",
    "ReallocationBody",
    "ResolveBody",
    "SampleBatch",
    "Timestamp",
    "UnderloadRequest",
    "VmOut",
    "VmReport",
    "VmSample",
    "VmUuid",
    "reallocation_body",
]


#: A VM's UUID, hyphenated or as 32 hex digits; stored in lower-case hyphenated form.
VmUuid = Annotated[
    str,
    Field(pattern=VM_UUID_PATTERN, examples=["8d1c6f0e-3a57-4b8e-9d0c-2f4e6a8b1c3d"]),
    AfterValidator(lambda value: str(uuid.UUID(value))),
]
#: A host's name: a DNS name or an IP address literal.
HostName = Annotated[str, Field(pattern=HOST_NAME_PATTERN, examples=["compute-1"])]


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _no_epoch_numbers(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("a moment is an RFC 3339 string with its UTC offset, not a number")
    return value


#: A moment with its UTC offset, as an RFC 3339 string.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_no_epoch_numbers)]


def _each_once(uuids: list[str]) -> list[str]:
    if len(set(uuids)) != len(uuids):
        raise ValueError("names the same VM twice")
    return uuids


#: VMs named at most once each.
VmUuids = Annotated[
    list[VmUuid],
    AfterValidator(_each_once),
    Field(max_length=10_000, json_schema_extra={"uniqueItems": True}),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class VmReport(_Body):
    """A VM the agent sees on its host."""

    uuid: VmUuid
    name: Annotated[str, AfterValidator(str.strip)] = Field(
        "", max_length=255, description="shown without edge white space"
    )
    vcpus: int = Field(ge=1, le=1024)
    ram_mb: int = Field(ge=1, le=16 * 1024 * 1024)
    state: Literal["running", "paused", "migrating", "shutoff", "other"] = "running"


class HostRegistration(_Body):
    """Who the host is and how to reach it (sent at agent start and when it changes)."""

    cpu_cores: int = Field(ge=1, le=4096)
    core_mhz: float = Field(gt=0, le=100_000)
    usable_fraction: float = Field(1.0, gt=0, le=1.0)
    ram_mb: int = Field(ge=1, le=2**31 - 1)
    hypervisor_uri: str = Field(
        min_length=1, max_length=512, description="libvirt URI peers migrate to"
    )
    migration_uri: str | None = Field(None, max_length=512)
    mac: str | None = Field(None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
    vms: list[VmReport] = Field(default_factory=list)


class Heartbeat(_Body):
    sent_at: Timestamp
    vms: list[VmReport] | None = None


class VmSample(_Body):
    uuid: VmUuid
    cpu_mhz: float = Field(ge=0)


class SampleBatch(_Body):
    """One collection interval of a host: VM CPU use, host and hypervisor CPU use."""

    taken_at: Timestamp
    host_cpu_mhz: float = Field(ge=0)
    hypervisor_mhz: float = Field(ge=0)
    vms: list[VmSample] = Field(default_factory=list, max_length=10_000)
    overloaded: bool | None = None


class IngestResult(_Body):
    stored: int


class UnderloadRequest(_Body):
    """A local manager asks to empty its host (``vm_uuids``: the VMs it saw, if any)."""

    host: HostName
    reason: Literal["underload"]
    vm_uuids: VmUuids = Field(default_factory=list)
    sent_at: Timestamp


class OverloadRequest(_Body):
    """A local manager asks to move the VMs it chose (at least one) off its host."""

    host: HostName
    reason: Literal["overload"]
    vm_uuids: VmUuids = Field(min_length=1)
    sent_at: Timestamp


#: A local manager's request, told apart by ``reason``.
ReallocationBody = Annotated[UnderloadRequest | OverloadRequest, Field(discriminator="reason")]


def reallocation_body(
    host: str, reason: Literal["underload", "overload"], vm_uuids: list[str], sent_at: datetime
) -> UnderloadRequest | OverloadRequest:
    """The request body for ``reason``."""
    if reason == "overload":
        return OverloadRequest(host=host, reason=reason, vm_uuids=vm_uuids, sent_at=sent_at)
    return UnderloadRequest(host=host, reason=reason, vm_uuids=vm_uuids, sent_at=sent_at)


class Accepted(_Body):
    request_id: int


class Assignment(_Body):
    """A migration the source host's agent must run now."""

    action_id: int
    vm_uuid: str
    destination_host: str
    destination_uri: str
    migration_uri: str | None = None
    timeout_s: float


class ActionProgress(_Body):
    percent: float = Field(ge=0, le=100)
    note: str = Field("", max_length=1000)


class ActionResult(_Body):
    ok: bool
    error: str = Field("", max_length=4000)


class MaintenanceBody(_Body):
    on: bool


class ResolveBody(_Body):
    """Where the VM of a stuck or unknown migration is (its source or its destination)."""

    on: HostName


class HostOut(BaseModel):
    """A host: power state, maintenance, whether its agent is heard, and quarantine.

    ``unreachable``: the host should be awake but its agent has been silent longer than
    the heartbeat timeout; ``quarantined``: kept out of placement until its agent reports
    its VMs again (``quarantine_reason`` says why).
    """

    name: str
    power_state: str
    maintenance: bool
    cpu_mhz: float
    ram_mb: int
    vms: int
    last_heartbeat: datetime | None = None
    hypervisor_uri: str | None = None
    migration_uri: str | None = None
    cpu_cores: int | None = None
    core_mhz: int | None = None
    registered_at: datetime | None = None
    unreachable: bool = False
    quarantined: bool = False
    quarantine_reason: str | None = None


class VmOut(BaseModel):
    """A VM, where it is and its latest CPU sample (``cpu_mhz``, None without one)."""

    uuid: str
    host: str | None
    state: str
    ram_mb: int
    vcpus: int
    cpu_mhz: float | None = None
    name: str | None = None
    capacity_mhz: int | None = None
    located_at: datetime | None = None
    reported_at: datetime | None = None


class ActionOut(BaseModel):
    id: int
    kind: Literal["wake", "migrate", "sleep"]
    state: str
    vm_uuid: str | None = None
    source: str | None = None
    destination: str | None = None
    attempts: int = 0
    last_error: str | None = None
    host: str | None = Field(default=None, description="the host a wake-up or sleep acts on")


class PlanOut(BaseModel):
    id: int
    state: str
    mode: Literal["automatic", "recommend"]
    reason: str
    created_at: datetime
    expires_at: datetime | None = None
    actions: list[ActionOut] = Field(default_factory=list)


class MigrationOut(BaseModel):
    """One live-migration attempt; ``outcome`` is None while it runs."""

    id: int
    vm_uuid: str
    source: str
    destination: str
    action_id: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    outcome: Literal["succeeded", "failed", "timed_out", "unknown"] | None = None
    error: str | None = None


class Evacuation(BaseModel):
    """A host put into maintenance and drained at once: the plan that drains it, or
    ``waiting`` when an open plan holds the drain back until it ends."""

    host: HostOut
    plan_id: int | None = None
    waiting: bool = False


class Health(BaseModel):
    """``degraded`` (with ``reasons``) when the database takes no writes or hosts are
    unreachable or quarantined; the controller still answers."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "read-only"]
    reasons: list[str] = Field(default_factory=list)


class FleetStats(BaseModel):
    hosts_by_state: dict[str, int]
    hosts_unreachable: int = 0
    hosts_quarantined: int = 0
    vms: int
    migrations_total: int
    aotf: float
    aitf: float
    estimated_energy_kwh: float
