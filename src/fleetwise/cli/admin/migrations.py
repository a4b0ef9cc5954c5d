"""``fleetwise migrations list|show|resolve``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Group

from fleetwise.api.client import Call, Calls
from fleetwise.api.schemas import MigrationOut
from fleetwise.cli.admin.command import admin_command, admin_group
from fleetwise.cli.admin.render import Column, Grid, count, fields, table, text, when
from fleetwise.errors import InputError

__all__ = ["migrations_app", "parse_since"]

migrations_app = admin_group("Inspect live migrations; say where the VM of a stuck one is.")

MigrationArgument = Annotated[int, typer.Argument(help="The migration's id.", show_default=False)]

_AGE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: datetime) -> datetime:
    """A point in time: ISO 8601 (UTC unless it has an offset) or an age before ``now``
    such as ``90s``, ``15m``, ``2h`` or ``7d``."""
    age = _AGE.fullmatch(value.strip())
    try:
        if age is not None:
            return now - timedelta(seconds=float(age["n"]) * _UNIT_S[age["unit"]])
        moment = datetime.fromisoformat(value.strip())
    except (ValueError, OverflowError):
        raise InputError(
            f"--since {value!r}: give an ISO 8601 time (2025-01-06T08:00:00Z) or an age "
            "such as 90s, 15m, 2h, 7d"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def outcome(migration: MigrationOut) -> str:
    return migration.outcome or "running"


def _hosts(migration: MigrationOut) -> str:
    return f"{migration.source} → {migration.destination}"


def migrations_table(migrations: list[MigrationOut]) -> Grid:
    columns = (
        Column("id", "id", right=True),
        Column("VM", "id"),
        Column("hosts"),
        Column("started", "word"),
        Column("outcome", "word"),
        Column("error"),
    )
    rows = [
        (str(m.id), m.vm_uuid, _hosts(m), when(m.started_at), outcome(m), text(m.error))
        for m in migrations
    ]
    return table(count(len(migrations), "migration"), columns, rows)


def migration_fields(migration: MigrationOut) -> Group:
    return fields(
        f"migration {migration.id}",
        [
            ("VM", migration.vm_uuid),
            ("source", migration.source),
            ("destination", migration.destination),
            ("action", text(migration.action_id)),
            ("started", when(migration.started_at)),
            ("finished", when(migration.finished_at)),
            ("outcome", outcome(migration)),
            ("error", text(migration.error)),
        ],
    )


def resolved_line(migration: MigrationOut) -> str:
    on, end = (
        (migration.destination, "destination")
        if migration.outcome == "succeeded"
        else (migration.source, "source")
    )
    return (
        f"migration {migration.id}: {outcome(migration)}; VM {migration.vm_uuid} is on "
        f"{on} (its {end})"
    )


@admin_command(migrations_app, "list", migrations_table)
def migrations_list(
    vm: Annotated[str | None, typer.Option(help="Only this VM's migrations (UUID).")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only those started at or after this time: ISO 8601 (UTC unless it has "
            "an offset) or an age such as 15m, 2h, 7d.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="At most this many (the controller: 1000).", show_default=False),
    ] = None,
) -> Call[list[MigrationOut]]:
    """Migration attempts, oldest first: VM, hosts, start, outcome, error."""
    start = None if since is None else parse_since(since, datetime.now(UTC))
    return Calls.migrations(vm, start, limit)


@admin_command(migrations_app, "show", migration_fields)
def migrations_show(migration_id: MigrationArgument) -> Call[MigrationOut]:
    """One migration attempt: every field the controller knows of it."""
    return Calls.migration(migration_id)


@admin_command(migrations_app, "resolve", resolved_line)
def migrations_resolve(
    migration_id: MigrationArgument,
    on: Annotated[
        str,
        typer.Option(
            "--on", help="The host the VM is on: the source or the destination.", show_default=False
        ),
    ],
) -> Call[MigrationOut]:
    """Say which host the VM of a stuck or unknown migration is on.

    On its destination the migration succeeded; on its source it failed.
    The VM is recorded on that host and both hosts leave quarantine.
    """
    return Calls.resolve(migration_id, on)
