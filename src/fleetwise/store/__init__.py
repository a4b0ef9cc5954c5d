"""The controller's central store: SQLAlchemy models, Alembic migrations, operations.

* :mod:`.database` – engines (SQLite in WAL mode or PostgreSQL), sessions, ``upgrade``.
* :mod:`.models` – the tables; :mod:`.records` and :mod:`.views` – values in and out.
* :mod:`.inventory`, :mod:`.samples`, :mod:`.plans`, :mod:`.migration_log`,
  :mod:`.reallocation` – the operations, each a function of a session.
* :mod:`.repository` – :class:`Store`, which runs one operation per transaction.
"""

from fleetwise.errors import ConflictError, NotFoundError
from fleetwise.store.database import create_engine_for, downgrade, sqlite_url, upgrade
from fleetwise.store.repository import Store

__all__ = [
    "ConflictError",
    "NotFoundError",
    "Store",
    "create_engine_for",
    "downgrade",
    "sqlite_url",
    "upgrade",
]
