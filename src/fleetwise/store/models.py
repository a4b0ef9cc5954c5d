"""The controller's tables, as typed SQLAlchemy ORM models.

A VM's location is the single nullable column ``vms.host_id``, so a VM is on at
most one host by construction. ``located_at`` is the time of the observation that
set it (an agent report or a finished migration); older observations never move
the VM back. Every timestamp is timezone-aware UTC and is passed in by the caller.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    HostPowerState,
    MigrationOutcome,
    PlanMode,
    PlanState,
    VmState,
)
from fleetwise.core.round import RequestOutcome
from fleetwise.store.coltypes import TextEnum, UtcDateTime, enum_check
from fleetwise.store.enums import ReallocationReason

__all__ = [
    "ActionRow",
    "Base",
    "HostPowerLogRow",
    "HostRow",
    "HostSampleRow",
    "MigrationRow",
    "OverloadLogRow",
    "PlanRow",
    "ProbeRow",
    "RequestRow",
    "VmRow",
    "VmSampleRow",
]

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

SampleId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit keys for the sample tables (SQLite only auto-increments ``INTEGER``)."""


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class HostRow(Base):
    """A virtualisation host; ``cpu_mhz`` is the total MHz usable by VMs.

    A host is *quarantined* (kept out of placement) from ``quarantined_at`` until its
    agent reports its VMs again: a migration to or from it ended without anyone able
    to tell where the VM is.
    """

    __tablename__ = "hosts"
    __table_args__ = (
        CheckConstraint("cpu_cores > 0", name="cpu_cores_positive"),
        CheckConstraint("core_mhz > 0", name="core_mhz_positive"),
        CheckConstraint("cpu_mhz > 0", name="cpu_mhz_positive"),
        CheckConstraint("ram_mb > 0", name="ram_mb_positive"),
        enum_check("power_state", HostPowerState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    cpu_cores: Mapped[int]
    core_mhz: Mapped[int]
    cpu_mhz: Mapped[int]
    ram_mb: Mapped[int]
    mac: Mapped[str | None] = mapped_column(String(17))
    power_address: Mapped[str | None] = mapped_column(String(255))
    power_kind: Mapped[str | None] = mapped_column(String(32))
    hypervisor_uri: Mapped[str | None] = mapped_column(String(512))
    migration_uri: Mapped[str | None] = mapped_column(String(512))
    power_state: Mapped[HostPowerState] = mapped_column(TextEnum(HostPowerState))
    maintenance: Mapped[bool]
    last_heartbeat: Mapped[datetime | None] = mapped_column(UtcDateTime())
    quarantined_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    quarantine_reason: Mapped[str | None] = mapped_column(String(255))
    agent_credential_hash: Mapped[str | None] = mapped_column(String(255))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class VmRow(Base):
    """A VM and the one host it is on (``host_id`` is NULL while unplaced or unseen)."""

    __tablename__ = "vms"
    __table_args__ = (
        CheckConstraint("ram_mb > 0", name="ram_mb_positive"),
        CheckConstraint("vcpus > 0", name="vcpus_positive"),
        CheckConstraint("capacity_mhz >= 0", name="capacity_mhz_not_negative"),
        enum_check("state", VmState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    ram_mb: Mapped[int]
    vcpus: Mapped[int]
    capacity_mhz: Mapped[int]
    state: Mapped[VmState] = mapped_column(TextEnum(VmState))
    located_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    host: Mapped[HostRow | None] = relationship()


class VmSampleRow(Base):
    """CPU use of one VM over the interval ending at ``ts``."""

    __tablename__ = "vm_samples"
    __table_args__ = (
        UniqueConstraint("vm_id", "ts"),
        Index(None, "ts"),
    )

    id: Mapped[int] = mapped_column(SampleId, primary_key=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    cpu_mhz: Mapped[float]


class HostSampleRow(Base):
    """CPU use of one host, and the hypervisor's share of it, over the interval ending at ``ts``."""

    __tablename__ = "host_samples"
    __table_args__ = (
        UniqueConstraint("host_id", "ts"),
        Index(None, "ts"),
    )

    id: Mapped[int] = mapped_column(SampleId, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    host_cpu_mhz: Mapped[float]
    hypervisor_mhz: Mapped[float]


class HostPowerLogRow(Base):
    """One change of a host's power state."""

    __tablename__ = "host_power_log"
    __table_args__ = (
        Index(None, "host_id", "ts"),
        enum_check("from_state", HostPowerState),
        enum_check("to_state", HostPowerState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    from_state: Mapped[HostPowerState] = mapped_column(TextEnum(HostPowerState))
    to_state: Mapped[HostPowerState] = mapped_column(TextEnum(HostPowerState))
    reason: Mapped[str] = mapped_column(String(255))


class OverloadLogRow(Base):
    """A change of a host's overload state (a row only when the state changes)."""

    __tablename__ = "overload_log"
    __table_args__ = (Index(None, "host_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    overloaded: Mapped[bool]


class RequestRow(Base):
    """A host's request to move VMs away; ``outcome`` stays NULL until it is handled."""

    __tablename__ = "reallocation_requests"
    __table_args__ = (
        Index(None, "host_id", "received_at"),
        enum_check("reason", ReallocationReason),
        enum_check("outcome", RequestOutcome),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    reason: Mapped[ReallocationReason] = mapped_column(TextEnum(ReallocationReason))
    vm_uuids: Mapped[list[str]] = mapped_column(JSON)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[RequestOutcome | None] = mapped_column(TextEnum(RequestOutcome))
    note: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    host: Mapped[HostRow] = relationship()


class PlanRow(Base):
    """An action plan: executed at once (automatic) or waiting for approval (recommend)."""

    __tablename__ = "plans"
    __table_args__ = (
        enum_check("state", PlanState),
        enum_check("mode", PlanMode),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[PlanState] = mapped_column(TextEnum(PlanState), index=True)
    mode: Mapped[PlanMode] = mapped_column(TextEnum(PlanMode))
    reason: Mapped[str] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    source_host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("reallocation_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    drained: Mapped[list[str] | None] = mapped_column(JSON)

    source_host: Mapped[HostRow | None] = relationship()
    actions: Mapped[list[ActionRow]] = relationship(
        back_populates="plan", order_by="ActionRow.seq", cascade="all, delete-orphan"
    )


class ActionRow(Base):
    """One step of a plan; actions of wave ``w`` start after every action of earlier waves.

    A migration names its VM, source and destination; a wake-up or sleep names only
    ``host_id``.
    """

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq"),
        CheckConstraint(
            "(kind = 'migrate' AND vm_id IS NOT NULL AND source_host_id IS NOT NULL"
            " AND destination_host_id IS NOT NULL AND host_id IS NULL"
            " AND source_host_id <> destination_host_id)"
            " OR (kind <> 'migrate' AND host_id IS NOT NULL AND vm_id IS NULL"
            " AND source_host_id IS NULL AND destination_host_id IS NULL)",
            name="shape",
        ),
        CheckConstraint("wave >= 0", name="wave_not_negative"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        CheckConstraint("attempts >= 0 AND attempts <= max_attempts", name="attempts_in_range"),
        enum_check("kind", ActionKind),
        enum_check("state", ActionState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    seq: Mapped[int]
    wave: Mapped[int]
    kind: Mapped[ActionKind] = mapped_column(TextEnum(ActionKind))
    vm_id: Mapped[int | None] = mapped_column(ForeignKey("vms.id"))
    source_host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    destination_host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    state: Mapped[ActionState] = mapped_column(TextEnum(ActionState))
    attempts: Mapped[int]
    max_attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    plan: Mapped[PlanRow] = relationship(back_populates="actions")
    vm: Mapped[VmRow | None] = relationship()
    source_host: Mapped[HostRow | None] = relationship(foreign_keys=[source_host_id])
    destination_host: Mapped[HostRow | None] = relationship(foreign_keys=[destination_host_id])
    host: Mapped[HostRow | None] = relationship(foreign_keys=[host_id])


class MigrationRow(Base):
    """One live migration attempt; at most one per VM is unfinished at any time."""

    __tablename__ = "migrations"
    __table_args__ = (
        Index(
            "uq_migrations_vm_id_unfinished",
            "vm_id",
            unique=True,
            sqlite_where=text("finished_at IS NULL"),
            postgresql_where=text("finished_at IS NULL"),
        ),
        Index(None, "vm_id", "started_at"),
        Index(None, "started_at"),
        CheckConstraint("source_host_id <> destination_host_id", name="distinct_hosts"),
        CheckConstraint("(finished_at IS NULL) = (outcome IS NULL)", name="finished_with_outcome"),
        enum_check("outcome", MigrationOutcome),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vms.id"))
    source_host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    destination_host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[MigrationOutcome | None] = mapped_column(TextEnum(MigrationOutcome))
    error: Mapped[str | None] = mapped_column(Text)

    vm: Mapped[VmRow] = relationship()
    source_host: Mapped[HostRow] = relationship(foreign_keys=[source_host_id])
    destination_host: Mapped[HostRow] = relationship(foreign_keys=[destination_host_id])


class ProbeRow(Base):
    """One row the health check writes, to know that the database takes writes."""

    __tablename__ = "probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
