"""The controller on PostgreSQL rides out a database restart in the middle of a plan."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.helpers.pg_server import PrivatePostgres
from tests.helpers.sim_cluster import HOSTS, SLOW_DRAIN, SimClusterFactory, drain_under_way

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(150)]

OUTAGE_S = 3.0
"""Longer than what is left of the running move, so the agent's result meets the outage."""


def test_database_restart_mid_plan_gives_503s_then_the_plan_completes(
    private_postgres: PrivatePostgres,  # first: torn down after the cluster's processes
    make_sim_cluster: SimClusterFactory,
) -> None:
    cluster = make_sim_cluster(HOSTS, database_url=private_postgres.url, **SLOW_DRAIN)
    vms = SLOW_DRAIN["vms"]
    cluster.start()
    cluster.admin.maintenance("h1", True)
    cluster.wait_for(lambda: drain_under_way(cluster), 30, "the drain's first move is under way")
    [plan] = cluster.plans()
    hosts_before = {h.name for h in cluster.admin.hosts()}

    private_postgres.stop()
    during: Counter[int] = Counter()
    end = time.monotonic() + OUTAGE_S
    while time.monotonic() < end:
        for path in ("/v1/health", "/v1/hosts", f"/v1/plans/{plan.id}", "/v1/vms"):
            during[cluster.http.get(path).status_code] += 1
        time.sleep(0.1)
    private_postgres.start()

    assert set(during) == {503}, during  # unavailable, never an internal error
    assert cluster.cluster.controller().running()
    cluster.wait_for(lambda: cluster.plan_ended(plan.id), 60, "the plan ended")
    cluster.wait_for(cluster.settled, 20, "the controller sees every VM where it is")
    assert cluster.admin.plan(plan.id).state == "succeeded", cluster.describe()
    for path in ("/v1/health", "/v1/hosts", "/v1/stats"):
        assert cluster.http.get(path).status_code == 200
    # Nothing was lost: the hosts, each VM moved once, every move recorded as done.
    assert {h.name for h in cluster.admin.hosts()} == hosts_before
    assert cluster.fleet.placement()["h1"] == []
    moves = Counter(m.uuid for m in cluster.fleet.migration_history())
    assert moves == Counter({vm.uuid: 1 for vm in vms[:3]})
    records = cluster.migrations()
    assert sorted(m.vm_uuid for m in records) == sorted(vm.uuid for vm in vms[:3])
    assert all(m.outcome == "succeeded" for m in records)
    log = cluster.log("controller")
    assert "failed unexpectedly" not in log  # the API's 500 handler never ran
    assert any("controller answered 503" in cluster.log(h) for h in HOSTS)
