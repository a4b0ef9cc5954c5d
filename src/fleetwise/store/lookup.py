"""Shared lookups and statements of the store's operations."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fleetwise.errors import NotFoundError
from fleetwise.store.models import Base, HostRow, VmRow

__all__ = [
    "chunks",
    "host_by_name",
    "host_ids",
    "insert_ignoring_duplicates",
    "rowcount",
    "vm_by_uuid",
    "vm_ids",
]

T = TypeVar("T")
CHUNK = 500
"""Keys per ``IN (...)`` list, well below every back end's parameter limit."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _missing(what: str, names: Collection[str]) -> NotFoundError:
    shown = ", ".join(sorted(names)[:5]) + (" …" if len(names) > 5 else "")
    return NotFoundError(f"unknown {what}: {shown}")


def host_by_name(session: Session, name: str, *, lock: bool = False) -> HostRow:
    """The host called ``name``; ``lock`` serialises writers of this host (PostgreSQL)."""
    stmt = select(HostRow).where(HostRow.name == name)
    host = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if host is None:
        raise _missing("host", [name])
    return host


def vm_by_uuid(session: Session, uuid: str, *, lock: bool = False) -> VmRow:
    """The VM with ``uuid``; ``lock`` serialises writers of this VM (PostgreSQL)."""
    stmt = select(VmRow).where(VmRow.uuid == uuid)
    vm = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if vm is None:
        raise _missing("VM", [uuid])
    return vm


def host_ids(session: Session, names: Collection[str]) -> dict[str, int]:
    """Host name → id for every name in ``names``; any unknown name is a NotFoundError."""
    wanted = sorted(set(names))
    found: dict[str, int] = {}
    for part in chunks(wanted):
        rows = session.execute(select(HostRow.name, HostRow.id).where(HostRow.name.in_(part)))
        found.update((key, row_id) for key, row_id in rows)
    if len(found) != len(wanted):
        raise _missing("host", set(wanted) - found.keys())
    return found


def vm_ids(session: Session, uuids: Collection[str]) -> dict[str, int]:
    """VM UUID → id for every UUID in ``uuids``; any unknown UUID is a NotFoundError."""
    wanted = sorted(set(uuids))
    found: dict[str, int] = {}
    for part in chunks(wanted):
        rows = session.execute(select(VmRow.uuid, VmRow.id).where(VmRow.uuid.in_(part)))
        found.update((key, row_id) for key, row_id in rows)
    if len(found) != len(wanted):
        raise _missing("VM", set(wanted) - found.keys())
    return found


def insert_ignoring_duplicates(session: Session, target: type[Base] | Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` into a model's table for the session's back end."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(target).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(target).on_conflict_do_nothing()
    raise NotImplementedError(f"no duplicate-ignoring insert for {dialect}")


def rowcount(session: Session, statement: Executable) -> int:
    """Execute an UPDATE or DELETE and return how many rows it matched."""
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount
