"""Requests tell why they were not planned: stale, duplicate, host unavailable…, with a note.

The former catch-all outcome ``rejected`` (always a stale or superseded request)
becomes ``stale``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "reallocation_requests"
_CHECK = "outcome_valid"
_OLD = ("planned", "no_placement", "nothing_to_do", "rejected")
_NEW = (
    "planned",
    "no_placement",
    "nothing_to_do",
    "stale",
    "duplicate",
    "host_unavailable",
    "unknown_host",
    "waiting",
)


def _one_of(values: Sequence[str]) -> str:
    return "outcome IN ({})".format(", ".join(f"'{v}'" for v in values))


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_constraint(f"ck_{_TABLE}_{_CHECK}", type_="check")
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.execute(sa.text(f"UPDATE {_TABLE} SET outcome = 'stale' WHERE outcome = 'rejected'"))
    with op.batch_alter_table(_TABLE) as batch:
        batch.create_check_constraint(f"ck_{_TABLE}_{_CHECK}", _one_of(_NEW))


def downgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_constraint(f"ck_{_TABLE}_{_CHECK}", type_="check")
    op.execute(
        sa.text(
            f"UPDATE {_TABLE} SET outcome = 'rejected' "
            "WHERE outcome IN ('stale', 'duplicate', 'host_unavailable', 'unknown_host', 'waiting')"
        )
    )
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_column("note")
        batch.create_check_constraint(f"ck_{_TABLE}_{_CHECK}", _one_of(_OLD))
