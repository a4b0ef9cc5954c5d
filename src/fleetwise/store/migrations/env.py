"""Alembic environment: runs the revision scripts on the connection it is given.

``fleetwise.store.database.upgrade`` passes an open connection through
``config.attributes["connection"]``; otherwise ``sqlalchemy.url`` from the Alembic
configuration is used. New revisions are rendered with plain SQLAlchemy types so
that they never import fleetwise's column types.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from fleetwise.store.coltypes import ENUM_LENGTH, TextEnum, UtcDateTime
from fleetwise.store.database import create_engine_for
from fleetwise.store.models import Base

__all__: list[str] = []


def _render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(item, TextEnum):
        return f"sa.String(length={ENUM_LENGTH})"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    engine = create_engine_for(url)
    try:
        with engine.begin() as own_connection:
            _run_on(own_connection)
    finally:
        engine.dispose()


_run()
