"""Store fixtures, each test run against SQLite and against a real PostgreSQL.

PostgreSQL is started through ``scripts/postgres.sh start`` once per session (or
taken from ``FLEETWISE_TEST_POSTGRES_URL``). If it cannot be started the
PostgreSQL tests fail with the reason, unless ``FLEETWISE_SKIP_POSTGRES=1``.

Isolation: each back end gets one schema migrated to head per session, and every
test starts with all its tables emptied (``store``/``engine``); tests of the
migrations themselves get a blank database of their own (``blank_url``): a fresh
SQLite file or a fresh PostgreSQL schema.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from fleetwise.store import Store, create_engine_for, sqlite_url, upgrade
from tests.helpers.store import wipe

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SCRIPT = REPO / "scripts" / "postgres.sh"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _start_postgres() -> str:
    override = os.environ.get("FLEETWISE_TEST_POSTGRES_URL")
    if override:
        return override
    subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), "start"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), "url"],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL test database (server started if needed)."""
    if os.environ.get("FLEETWISE_SKIP_POSTGRES") == "1":
        pytest.skip("FLEETWISE_SKIP_POSTGRES=1: PostgreSQL tests skipped")
    try:
        url = _start_postgres()
        engine = create_engine_for(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        pytest.fail(
            f"PostgreSQL for the store tests is not available: {detail.strip()}\n"
            "Install it with scripts/setup-system.sh (Debian package postgresql) and run "
            "scripts/postgres.sh start, or set FLEETWISE_SKIP_POSTGRES=1 to skip these tests.",
            pytrace=False,
        )
    return url


def _schema_url(base: str, schema: str) -> str:
    # Test data need not survive a crash: skip the WAL flush at every commit.
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = make_url(base).update_query_dict({"options": options})
    return url.render_as_string(hide_password=False)


@contextmanager
def _postgres_schema(base: str) -> Iterator[str]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of its own (no tables at all)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "blank.db")
    else:
        with _postgres_schema(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a database migrated to head, shared by the session (emptied per test)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("store") / "fleetwise.db")
        upgrade(url)
        yield url
        return
    with _postgres_schema(request.getfixturevalue("postgres_url")) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def shared_engine(migrated_url: str) -> Iterator[Engine]:
    """One engine per back end for the whole session (its pool is reused)."""
    engine = create_engine_for(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(shared_engine: Engine) -> Engine:
    """An engine on the migrated database, all tables empty."""
    wipe(shared_engine)
    return shared_engine


@pytest.fixture
def store(engine: Engine) -> Store:
    """A store on the migrated database, all tables empty."""
    return Store(engine)
