"""The API and a full planning round on PostgreSQL (started by scripts/postgres.sh).

As for the store's tests: ``FLEETWISE_TEST_POSTGRES_URL`` names a server to use,
``FLEETWISE_SKIP_POSTGRES=1`` skips these tests, anything else failing fails them.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from fleetwise.service import VirtualClock
from fleetwise.store import create_engine_for
from tests.helpers.controller import Harness, make_config, simulated_power, vm

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


def _server_url() -> str:
    override = os.environ.get("FLEETWISE_TEST_POSTGRES_URL")
    if override:
        return override
    for command in ("start", "url"):
        done = subprocess.run(
            ["bash", str(SCRIPT), command], check=True, capture_output=True, text=True, timeout=120
        )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server_url() -> str:
    if os.environ.get("FLEETWISE_SKIP_POSTGRES") == "1":
        pytest.skip("FLEETWISE_SKIP_POSTGRES=1: PostgreSQL tests skipped")
    try:
        return _server_url()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        pytest.fail(f"PostgreSQL is not available: {detail.strip()}", pytrace=False)


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """A fresh schema of its own on the server."""
    schema = f"controller_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = {"options": f"-csearch_path={schema} -csynchronous_commit=off"}
    try:
        yield make_url(server_url).update_query_dict(options).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_api_and_a_plan_on_postgresql(
    database_url: str, tmp_path: Path, clock: VirtualClock
) -> None:
    config = make_config(tmp_path, database_url=database_url)
    harness = Harness(config, clock, simulated_power(clock))
    try:
        harness.build_fleet({"h1": {1: 400.0}, "h2": {2: 1500.0, 3: 1500.0}})
        harness.register("h2", [vm(2), vm(3)])
        assert harness.reallocate("h1", "underload").status_code == 202
        assert harness.reallocate("h1", "underload", age_s=60).status_code == 412
        plan = harness.plan_round()
        assert plan is not None
        harness.execute()
        harness.finish_assignments("h1")
        harness.execute()
        assert harness.state_of(plan.id) == (
            "succeeded",
            [("migrate", "succeeded"), ("sleep", "succeeded")],
        )
        assert harness.vm_hosts() == {1: "h2", 2: "h2", 3: "h2"}
        assert harness.ok("GET", "/v1/stats")["hosts_by_state"]["asleep"] == 1
        assert harness.ok("GET", "/v1/health") == {"status": "ok", "database": "ok", "reasons": []}
        big = {"cpu_cores": 1, "core_mhz": 1, "ram_mb": 2**40, "hypervisor_uri": "x"}
        assert harness.call("PUT", "/v1/agents/h3", "h3", big).status_code == 422
    finally:
        harness.close()


def test_health_is_degraded_while_the_database_takes_no_writes(
    database_url: str, tmp_path: Path, clock: VirtualClock
) -> None:
    writable = Harness(
        make_config(tmp_path, database_url=database_url), clock, simulated_power(clock)
    )
    try:
        writable.register("h1", [vm(1)])
        assert writable.ok("GET", "/v1/health")["status"] == "ok"
    finally:
        writable.close()
    url = make_url(database_url)
    options = url.query["options"]
    read_only = url.update_query_dict(
        {"options": f"{options} -cdefault_transaction_read_only=on"}
    ).render_as_string(hide_password=False)
    harness = Harness(make_config(tmp_path, database_url=read_only), clock, simulated_power(clock))
    try:
        health = harness.ok("GET", "/v1/health", "h1")
        assert health["status"] == "degraded" and health["database"] == "read-only"
        assert any("takes no writes" in reason for reason in health["reasons"])
        assert harness.ok("GET", "/v1/hosts")[0]["name"] == "h1"  # reads still work
    finally:
        harness.close()
