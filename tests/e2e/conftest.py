"""Fixtures of the end-to-end tests: clusters of real processes, always stopped afterwards.

``make_sim_cluster(...)`` builds a :class:`sim_cluster.SimCluster` under the test's
temporary directory (fresh fleet file, free loopback port, one token per agent).
Whatever happens in the test, every process it started is stopped (SIGTERM, then
SIGKILL after a grace period) at teardown; when the test failed, the tail of each
process's log is printed so that it appears in the report.

``private_postgres`` is a PostgreSQL server of the test's own (see ``pg_server``);
``FLEETWISE_SKIP_POSTGRES=1`` skips the tests that need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.pg_server import PrivatePostgres, postgres_bindir
from tests.helpers.sim_cluster import SimCluster, SimClusterFactory

LOG_TAIL_LINES = 40


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item (``rep_setup``, ``rep_call``)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@pytest.fixture
def make_sim_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimClusterFactory]:
    """Build (not start) simulated clusters; all are stopped when the test ends."""
    made: list[SimCluster] = []

    def build(*args: Any, **kwargs: Any) -> SimCluster:
        cluster = SimCluster(tmp_path / f"cluster{len(made) + 1}", *args, **kwargs)
        made.append(cluster)
        return cluster

    yield build
    for cluster in made:
        cluster.close()
        if _failed(request):
            for process in cluster.cluster.processes:
                tail = process.log_text().splitlines()[-LOG_TAIL_LINES:]
                print(f"----- {process.name} (exit {process.returncode}) -----")
                print("\n".join(tail))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL server that only this test uses (and may restart)."""
    if os.environ.get("FLEETWISE_SKIP_POSTGRES") == "1":
        pytest.skip("FLEETWISE_SKIP_POSTGRES=1: PostgreSQL tests skipped")
    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL is not installed (initdb not found): run scripts/setup-system.sh "
            "or set FLEETWISE_SKIP_POSTGRES=1",
            pytrace=False,
        )
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()
