"""Dead hosts: quarantined hosts, migrations whose outcome stays unknown, drains a plan
answers, and a table the health check writes to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = "ck_migrations_outcome_valid"


def _outcomes(values: Sequence[str]) -> str:
    return "outcome IN ({})".format(", ".join(f"'{v}'" for v in values))


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("quarantine_reason", sa.String(length=255), nullable=True))
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("drained", sa.JSON(), nullable=True))
    with op.batch_alter_table("migrations") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.create_check_constraint(
            _CHECK, _outcomes(("succeeded", "failed", "timed_out", "unknown"))
        )
    op.create_table(
        "probes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_probes"),
    )


def downgrade() -> None:
    op.drop_table("probes")
    op.execute(
        sa.text(
            "UPDATE migrations SET outcome = 'failed' WHERE outcome IN ('timed_out', 'unknown')"
        )
    )
    with op.batch_alter_table("migrations") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.create_check_constraint(_CHECK, _outcomes(("succeeded", "failed")))
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("drained")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("quarantine_reason")
        batch.drop_column("quarantined_at")
