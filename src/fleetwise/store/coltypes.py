"""Column types: timezone-aware UTC timestamps and text-stored enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import CheckConstraint, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fleetwise.errors import InputError

__all__ = ["ENUM_LENGTH", "TextEnum", "UtcDateTime", "enum_check", "require_utc"]

ENUM_LENGTH = 32
"""Width of every enum column; each enum value must fit."""

E = TypeVar("E", bound=StrEnum)


def require_utc(value: datetime, what: str = "timestamp") -> datetime:
    """``value`` converted to UTC; a naive datetime is bad input."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps it as ``timestamp with time zone``; SQLite, which has no time
    zones, keeps the UTC wall time (ISO text, which also sorts correctly).
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = require_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TextEnum(TypeDecorator[E]):
    """A :class:`~enum.StrEnum` stored as its value in a ``VARCHAR``."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E]) -> None:
        too_long = [m.value for m in enum_type if len(m.value) > ENUM_LENGTH]
        if too_long:
            raise ValueError(f"{enum_type.__name__} values longer than {ENUM_LENGTH}: {too_long}")
        super().__init__(length=ENUM_LENGTH)
        self.enum_type = enum_type

    def process_bind_param(self, value: E | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


def enum_check(column: str, enum_type: type[StrEnum]) -> CheckConstraint:
    """A CHECK constraint keeping ``column`` within the values of ``enum_type``."""
    values = ", ".join(f"'{m.value}'" for m in enum_type)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")
