"""Schema management: migrations up and down, models == migrations, engine settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from fleetwise.errors import DriverError, InputError, ParameterError
from fleetwise.store import Store, create_engine_for, downgrade, sqlite_url, upgrade
from fleetwise.store.coltypes import UtcDateTime
from fleetwise.store.database import (
    current_revision,
    head_revision,
    normalise_url,
    safe_url,
)
from fleetwise.store.inventory import list_hosts, record_heartbeat, register_host
from fleetwise.store.models import Base, HostRow
from tests.helpers.store import at, host_spec

TABLES = {
    "actions",
    "host_power_log",
    "host_samples",
    "hosts",
    "migrations",
    "overload_log",
    "probes",
    "plans",
    "reallocation_requests",
    "vm_samples",
    "vms",
}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_to_head_and_back(blank_url: str) -> None:
    engine = create_engine_for(blank_url)
    try:
        assert _tables(engine) == set()
        assert current_revision(engine) is None
        upgrade(engine)
        assert _tables(engine) == TABLES
        assert current_revision(engine) == head_revision()
        upgrade(engine)  # already at head: nothing to do, nothing breaks
        downgrade(engine)
        assert _tables(engine) == set()
        assert current_revision(engine) is None
        upgrade(blank_url)  # by URL, as at start-up
        assert _tables(engine) == TABLES
    finally:
        engine.dispose()


def test_upgrading_a_populated_database_keeps_its_hosts(blank_url: str) -> None:
    engine = create_engine_for(blank_url)
    try:
        upgrade(engine, "0001")
        # the hosts table as revision 0001 has it
        columns = ["cpu_cores", "core_mhz", "cpu_mhz", "ram_mb"]
        hosts_0001 = Table(
            "hosts",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("name", String(255)),
            *(Column(name, Integer) for name in columns),
            Column("power_state", String(32)),
            Column("maintenance", Boolean),
            Column("registered_at", UtcDateTime()),
            Column("updated_at", UtcDateTime()),
        )
        with engine.begin() as connection:
            connection.execute(
                hosts_0001.insert().values(
                    name="h1",
                    cpu_cores=4,
                    core_mhz=2000,
                    cpu_mhz=8000,
                    ram_mb=8192,
                    power_state="active",
                    maintenance=False,
                    registered_at=at(0),
                    updated_at=at(0),
                )
            )
        upgrade(engine)
        (host,) = Store(engine).read(list_hosts)
        assert (host.name, host.cpu_mhz, host.hypervisor_uri) == ("h1", 8000, None)
        downgrade(engine, "0001")
        assert "hypervisor_uri" not in {c["name"] for c in inspect(engine).get_columns("hosts")}
    finally:
        engine.dispose()


def test_migrations_create_exactly_the_models_schema(blank_url: str) -> None:
    engine = create_engine_for(blank_url)
    try:
        upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_autogenerate_diff_detects_a_missing_table(blank_url: str) -> None:
    # The comparison used above must be able to fail.
    engine = create_engine_for(blank_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE overload_log"))
        diff = [d for d in _diff(engine) if isinstance(d, tuple)]
        assert [d[0] for d in diff] == ["add_table", "add_index"]
        assert diff[0][1].name == "overload_log"
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "nested" / "dir" / "db.sqlite"))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO overload_log (host_id, ts, overloaded) "
                "VALUES (12345, '2024-01-01 00:00:00', false)"
            )
        )


def test_enum_columns_reject_unknown_values(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(text("UPDATE hosts SET power_state = 'hibernating'"))


def test_timestamps_come_back_as_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2024, 3, 1, 14, 30, tzinfo=paris)
    store.run(register_host, host_spec("h1"), now=local)
    store.run(record_heartbeat, "h1", now=local + timedelta(seconds=1))
    (host,) = store.read(list_hosts)
    assert host.registered_at == local
    assert host.registered_at.utcoffset() == timedelta(0)
    assert host.registered_at.hour == 12
    with store.engine.connect() as connection:
        stored = connection.execute(select(HostRow.registered_at)).scalar_one()
    assert stored.tzinfo is not None and stored.hour == 12


def test_naive_timestamps_are_rejected_and_change_nothing(store: Store) -> None:
    with pytest.raises(InputError, match="timezone-aware"):
        store.run(register_host, host_spec("h1"), now=datetime(2024, 3, 1, 12))
    assert store.read(list_hosts) == ()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@127.0.0.1/db", "postgresql+psycopg"),
        ("postgres://u:p@127.0.0.1/db", "postgresql+psycopg"),
        ("sqlite:///tmp/x.db", "sqlite"),
    ],
)
def test_urls_are_normalised(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u:p@127.0.0.1/db", "not a url", "sqlite+aiosqlite:///x"])
def test_unsupported_urls_are_parameter_errors(url: str) -> None:
    with pytest.raises(ParameterError):
        normalise_url(url)


def test_unreachable_database_is_a_driver_error_without_the_password() -> None:
    store = Store(create_engine_for("postgresql://fleetwise:s3cret@127.0.0.1:9/none"))
    try:
        with pytest.raises(DriverError) as info:
            store.read(list_hosts)
        assert "s3cret" not in str(info.value)
        assert "127.0.0.1:9" in str(info.value)
    finally:
        store.close()
    assert "s3cret" not in safe_url("postgresql://fleetwise:s3cret@127.0.0.1/x")
