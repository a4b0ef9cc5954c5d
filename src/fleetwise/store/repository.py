"""The store's entry point: one transaction per operation, database faults mapped.

Operations are the plain functions of :mod:`~fleetwise.store.inventory`,
:mod:`~fleetwise.store.samples`, :mod:`~fleetwise.store.plans`,
:mod:`~fleetwise.store.migration_log` and :mod:`~fleetwise.store.reallocation`; each
takes a session first. :meth:`Store.run` calls one of them in its own transaction,
commits if it returns and rolls back if it raises::

    store = Store.open("sqlite:///var/lib/fleetwise/controller.db")
    host = store.run(register_host, spec, now=now)
    plans = store.read(open_plans)

Errors: bad input and stale expectations are :class:`~fleetwise.errors.InputError`
subclasses; an unreachable or failing database is a
:class:`~fleetwise.errors.DriverError`. Either way nothing was changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from fleetwise.errors import ConflictError, DriverError, InputError
from fleetwise.store.database import create_engine_for, safe_url, session_factory, upgrade

__all__ = ["Store"]

P = ParamSpec("P")
R = TypeVar("R")


class Store:
    """The central store on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer: sessionmaker[Session] = session_factory(engine)
        self._reader: sessionmaker[Session] = session_factory(engine, read_only=True)

    @classmethod
    def open(cls, url: str | URL, *, migrate: bool = True) -> Store:
        """Connect to ``url`` and, unless told otherwise, bring its schema up to date."""
        engine = create_engine_for(url)
        if migrate:
            try:
                upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def run(
        self,
        operation: Callable[Concatenate[Session, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Call ``operation(session, *args, **kwargs)`` in one writing transaction."""
        return self._call(self._writer, operation, *args, **kwargs)

    def read(
        self,
        operation: Callable[Concatenate[Session, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Like :meth:`run`, for operations that only read (they never wait for writers)."""
        return self._call(self._reader, operation, *args, **kwargs)

    def _call(
        self,
        sessions: sessionmaker[Session],
        operation: Callable[Concatenate[Session, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        try:
            with sessions.begin() as session:
                return operation(session, *args, **kwargs)
        except IntegrityError as exc:
            raise ConflictError(f"the change conflicts with stored data: {exc.orig}") from exc
        except DataError as exc:
            raise InputError(f"the database rejected a value: {exc.orig}") from exc
        except DBAPIError as exc:
            raise DriverError(f"database {safe_url(self.engine.url)!r} failed: {exc.orig}") from exc
        except StatementError as exc:
            if isinstance(exc.orig, InputError):
                raise exc.orig from exc
            raise
