"""Engines, sessions and schema migrations of the central store.

Two back ends are supported: SQLite (the embedded default, in WAL mode with
foreign keys enforced) and PostgreSQL through psycopg 3. The schema is managed by
the Alembic scripts shipped in ``fleetwise.store.migrations``; :func:`upgrade` runs
them without any ``alembic.ini``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from fleetwise.errors import DriverError, ParameterError
from fleetwise.private_files import create_private_file, ensure_private_dir

__all__ = [
    "READ_ONLY",
    "alembic_config",
    "create_engine_for",
    "current_revision",
    "downgrade",
    "driver_installed",
    "head_revision",
    "normalise_url",
    "safe_url",
    "session_factory",
    "sqlite_url",
    "upgrade",
]

SCRIPT_LOCATION = "fleetwise.store:migrations"
READ_ONLY = "fleetwise_read_only"
"""Execution option: on SQLite, open a deferred (reading) transaction instead of an
immediate (writing) one."""

DEFAULT_BUSY_TIMEOUT_MS = 10_000


def sqlite_url(path: Path | str) -> str:
    """The URL of the SQLite database file at ``path``."""
    return f"sqlite:///{Path(path)}"


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the driver fleetwise uses (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ParameterError(f"invalid database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "pysqlite":
            raise ParameterError(f"unsupported SQLite driver in {safe_url(parsed)!r}")
        return parsed
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg")
    raise ParameterError(
        f"unsupported database {safe_url(parsed)!r}: use sqlite:///PATH or postgresql://…"
    )


def safe_url(url: str | URL) -> str:
    """``url`` with its password masked, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def driver_installed(module: str) -> bool:
    """Whether the database driver ``module`` can be imported."""
    return importlib.util.find_spec(module) is not None


def create_engine_for(
    url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, echo: bool = False
) -> Engine:
    """An engine for ``url`` configured for the store.

    SQLite: WAL journal, ``foreign_keys=ON``, a busy timeout, and transactions that
    take the write lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so read-then-write
    transactions cannot deadlock on lock upgrades. PostgreSQL: connections are
    checked before use so a restarted server is survived.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        if not driver_installed("psycopg"):
            raise ParameterError(
                "the database is PostgreSQL but its driver is not installed: "
                "pip install 'fleetwise[postgres]'"
            )
        return create_engine(parsed, pool_pre_ping=True, echo=echo)
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.parent.is_dir():
            ensure_private_dir(path.parent, "database folder")
        create_private_file(path)
    engine = create_engine(parsed, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped scripts, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # Revision files are importable module names: r<rev>_<slug>.py
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _transaction(target: str | URL | Engine) -> Iterator[Connection]:
    engine = target if isinstance(target, Engine) else create_engine_for(target)
    try:
        with engine.begin() as connection:
            yield connection
    except DBAPIError as exc:
        raise DriverError(
            f"database {safe_url(engine.url)!r} failed during migration: {exc.orig}"
        ) from exc
    finally:
        if engine is not target:
            engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (a URL or an engine) up to ``revision``.

    A database written by a newer fleetwise (at a revision this one does not ship) is
    refused in one line rather than half-understood.
    """
    with _transaction(target) as connection:
        _refuse_newer_schema(connection)
        command.upgrade(alembic_config(connection), revision)


def _refuse_newer_schema(connection: Connection) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    if current not in {script.revision for script in scripts.walk_revisions()}:
        raise ParameterError(
            f"the database {safe_url(connection.engine.url)} is at schema revision {current!r}, "
            f"newer than this fleetwise knows (its newest is {scripts.get_current_head()!r}): "
            "run the newer fleetwise, or restore a backup"
        )


def downgrade(target: str | URL | Engine, revision: str = "base") -> None:
    """Migrate the database at ``target`` down to ``revision`` (``base`` drops everything)."""
    with _transaction(target) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with _transaction(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of fleetwise."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts are shipped")
    return head
