"""Initial schema: inventory, samples, logs, requests, plans, actions and migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Enum values are spelled out here on purpose: a revision describes the schema as it
was when written and must not change when the Python enums do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POWER_STATES = ("active", "going_to_sleep", "asleep", "waking")
_VM_STATES = ("running", "paused", "shutoff", "crashed", "migrating", "missing")
_PLAN_STATES = (
    "recommended",
    "pending",
    "ongoing",
    "succeeded",
    "failed",
    "cancelled",
    "superseded",
)
_ACTION_STATES = ("pending", "ongoing", "succeeded", "failed", "skipped", "cancelled")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _sample_id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _ref(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def _one_of(column: str, values: Sequence[str], table: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"ck_{table}_{column}_valid")


def _check(sql: str, name: str, table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=f"ck_{table}_{name}")


def _fk(
    column: str, table: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=False)


def upgrade() -> None:
    t = "hosts"
    op.create_table(
        t,
        _id(),
        sa.Column("name", sa.String(length=255), nullable=False),
        _int("cpu_cores"),
        _int("core_mhz"),
        _int("cpu_mhz"),
        _int("ram_mb"),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("power_address", sa.String(length=255), nullable=True),
        sa.Column("power_kind", sa.String(length=32), nullable=True),
        _enum("power_state"),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        _ts("last_heartbeat", nullable=True),
        sa.Column("agent_credential_hash", sa.String(length=255), nullable=True),
        _ts("registered_at"),
        _ts("updated_at"),
        _check("cpu_cores > 0", "cpu_cores_positive", t),
        _check("core_mhz > 0", "core_mhz_positive", t),
        _check("cpu_mhz > 0", "cpu_mhz_positive", t),
        _check("ram_mb > 0", "ram_mb_positive", t),
        _one_of("power_state", _POWER_STATES, t),
        _pk(t),
        sa.UniqueConstraint("name", name="uq_hosts_name"),
    )

    t = "vms"
    op.create_table(
        t,
        _id(),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        _ref("host_id", nullable=True),
        _int("ram_mb"),
        _int("vcpus"),
        _int("capacity_mhz"),
        _enum("state"),
        _ts("located_at", nullable=True),
        _ts("reported_at"),
        _ts("created_at"),
        _check("ram_mb > 0", "ram_mb_positive", t),
        _check("vcpus > 0", "vcpus_positive", t),
        _check("capacity_mhz >= 0", "capacity_mhz_not_negative", t),
        _one_of("state", _VM_STATES, t),
        _fk("host_id", t, "hosts"),
        _pk(t),
        sa.UniqueConstraint("uuid", name="uq_vms_uuid"),
    )
    _index(t, "host_id")

    t = "vm_samples"
    op.create_table(
        t,
        _sample_id(),
        _ref("vm_id"),
        _ts("ts"),
        sa.Column("cpu_mhz", sa.Double(), nullable=False),
        _fk("vm_id", t, "vms", ondelete="CASCADE"),
        _pk(t),
        sa.UniqueConstraint("vm_id", "ts", name="uq_vm_samples_vm_id_ts"),
    )
    _index(t, "ts")

    t = "host_samples"
    op.create_table(
        t,
        _sample_id(),
        _ref("host_id"),
        _ts("ts"),
        sa.Column("host_cpu_mhz", sa.Double(), nullable=False),
        sa.Column("hypervisor_mhz", sa.Double(), nullable=False),
        _fk("host_id", t, "hosts", ondelete="CASCADE"),
        _pk(t),
        sa.UniqueConstraint("host_id", "ts", name="uq_host_samples_host_id_ts"),
    )
    _index(t, "ts")

    t = "host_power_log"
    op.create_table(
        t,
        _id(),
        _ref("host_id"),
        _ts("ts"),
        _enum("from_state"),
        _enum("to_state"),
        sa.Column("reason", sa.String(length=255), nullable=False),
        _one_of("from_state", _POWER_STATES, t),
        _one_of("to_state", _POWER_STATES, t),
        _fk("host_id", t, "hosts"),
        _pk(t),
    )
    _index(t, "host_id", "ts")

    t = "overload_log"
    op.create_table(
        t,
        _id(),
        _ref("host_id"),
        _ts("ts"),
        sa.Column("overloaded", sa.Boolean(), nullable=False),
        _fk("host_id", t, "hosts"),
        _pk(t),
    )
    _index(t, "host_id", "ts")

    t = "reallocation_requests"
    op.create_table(
        t,
        _id(),
        _ref("host_id"),
        _enum("reason"),
        sa.Column("vm_uuids", sa.JSON(), nullable=False),
        _ts("sent_at", nullable=True),
        _ts("received_at"),
        _enum("outcome", nullable=True),
        _ts("handled_at", nullable=True),
        _one_of("reason", ("underload", "overload"), t),
        _one_of("outcome", ("planned", "no_placement", "nothing_to_do", "rejected"), t),
        _fk("host_id", t, "hosts"),
        _pk(t),
    )
    _index(t, "host_id", "received_at")

    t = "plans"
    op.create_table(
        t,
        _id(),
        _enum("state"),
        _enum("mode"),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        _ref("source_host_id", nullable=True),
        _ref("request_id", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("expires_at", nullable=True),
        _one_of("state", _PLAN_STATES, t),
        _one_of("mode", ("automatic", "recommend"), t),
        _fk("source_host_id", t, "hosts"),
        _fk("request_id", t, "reallocation_requests"),
        _pk(t),
    )
    _index(t, "state")

    t = "actions"
    op.create_table(
        t,
        _id(),
        _ref("plan_id"),
        _int("seq"),
        _int("wave"),
        _enum("kind"),
        _ref("vm_id", nullable=True),
        _ref("source_host_id", nullable=True),
        _ref("destination_host_id", nullable=True),
        _ref("host_id", nullable=True),
        _enum("state"),
        _int("attempts"),
        _int("max_attempts"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        _ts("updated_at"),
        _check(
            "(kind = 'migrate' AND vm_id IS NOT NULL AND source_host_id IS NOT NULL"
            " AND destination_host_id IS NOT NULL AND host_id IS NULL"
            " AND source_host_id <> destination_host_id)"
            " OR (kind <> 'migrate' AND host_id IS NOT NULL AND vm_id IS NULL"
            " AND source_host_id IS NULL AND destination_host_id IS NULL)",
            "shape",
            t,
        ),
        _check("wave >= 0", "wave_not_negative", t),
        _check("max_attempts >= 1", "max_attempts_positive", t),
        _check("attempts >= 0 AND attempts <= max_attempts", "attempts_in_range", t),
        _one_of("kind", ("migrate", "wake", "sleep"), t),
        _one_of("state", _ACTION_STATES, t),
        _fk("plan_id", t, "plans", ondelete="CASCADE"),
        _fk("vm_id", t, "vms"),
        _fk("source_host_id", t, "hosts"),
        _fk("destination_host_id", t, "hosts"),
        _fk("host_id", t, "hosts"),
        _pk(t),
        sa.UniqueConstraint("plan_id", "seq", name="uq_actions_plan_id_seq"),
    )

    t = "migrations"
    op.create_table(
        t,
        _id(),
        _ref("vm_id"),
        _ref("source_host_id"),
        _ref("destination_host_id"),
        _ref("action_id", nullable=True),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        _enum("outcome", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _check("source_host_id <> destination_host_id", "distinct_hosts", t),
        _check("(finished_at IS NULL) = (outcome IS NULL)", "finished_with_outcome", t),
        _one_of("outcome", ("succeeded", "failed"), t),
        _fk("vm_id", t, "vms"),
        _fk("source_host_id", t, "hosts"),
        _fk("destination_host_id", t, "hosts"),
        _fk("action_id", t, "actions"),
        _pk(t),
    )
    _index(t, "vm_id", "started_at")
    _index(t, "started_at")
    op.create_index(
        "uq_migrations_vm_id_unfinished",
        t,
        ["vm_id"],
        unique=True,
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "migrations",
        "actions",
        "plans",
        "reallocation_requests",
        "overload_log",
        "host_power_log",
        "host_samples",
        "vm_samples",
        "vms",
        "hosts",
    ):
        op.drop_table(table)
