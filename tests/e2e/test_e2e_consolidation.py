"""One controller and three agent processes on a shared simulated fleet, over loopback.

Hosts have 4 cores of 2000 MHz (8000 MHz) and 8 GB; the agents' local managers use
their defaults (underload: mean of the last two samples below 50 %, overload: above
80 %), the controller BFD with an 80 % CPU cap. Every scenario is decided by the
constant VM loads below, so its outcome is known in advance.
"""

from __future__ import annotations

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from tests.helpers.sim_cluster import (
    HOSTS,
    NO_UNDERLOAD,
    UNDERLOADED_H3,
    SimCluster,
    SimClusterFactory,
    SimVm,
    consolidate_h3,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_underloaded_host_is_drained_and_put_to_sleep(
    make_sim_cluster: SimClusterFactory,
) -> None:
    cluster = make_sim_cluster(HOSTS, UNDERLOADED_H3)
    cluster.start()
    destination = consolidate_h3(cluster)
    vm5 = UNDERLOADED_H3[-1].uuid

    # The controller's plan: move VM 5 away from h3, then put h3 to sleep.
    [plan] = [p for p in cluster.plans() if "underload of h3" in p.reason]
    assert plan.state == "succeeded"
    assert [(a.kind, a.state) for a in plan.actions] == [
        ("migrate", "succeeded"),
        ("sleep", "succeeded"),
    ]
    assert plan.actions[0].vm_uuid == vm5 and plan.actions[1].host == "h3"
    # Recorded by the controller and carried out once in the fleet.
    [record] = cluster.migrations()
    assert (record.vm_uuid, record.source, record.destination) == (vm5, "h3", destination)
    assert record.outcome == "succeeded"
    [moved] = cluster.fleet.migration_history()
    assert (moved.uuid, moved.source, moved.destination) == (vm5, "h3", destination)
    assert moved.outcome is MigrationOutcome.SUCCEEDED
    hosts = {h.name: h for h in cluster.admin.hosts()}
    assert hosts["h3"].vms == 0 and hosts[destination].vms == 3
    assert cluster.admin.stats().hosts_by_state["asleep"] == 1


def test_power_aware_placement_consolidates_the_live_fleet(
    make_sim_cluster: SimClusterFactory,
) -> None:
    cluster = make_sim_cluster(
        HOSTS,
        UNDERLOADED_H3,
        controller={
            "global_manager": {"placement": {"name": "pabfd"}},
            "power_model_default": {"name": "hp-ml110-g5", "sleep_w": 10},
        },
    )
    cluster.start()
    destination = consolidate_h3(cluster)
    [plan] = [p for p in cluster.plans() if "underload of h3" in p.reason]
    assert plan.state == "succeeded"
    assert [(a.kind, a.state) for a in plan.actions] == [
        ("migrate", "succeeded"),
        ("sleep", "succeeded"),
    ]
    assert {h.name: h.vms for h in cluster.admin.hosts()}[destination] == 3


def test_overloaded_host_is_relieved(make_sim_cluster: SimClusterFactory) -> None:
    # h1 at 90 % (three VMs of 2400 MHz), h2 and h3 at 30 %; nobody asks to be emptied.
    vms = (
        SimVm(1, "h1", 2, 0.6),
        SimVm(2, "h1", 2, 0.6),
        SimVm(3, "h1", 2, 0.6),
        SimVm(4, "h2", 2, 0.6),
        SimVm(5, "h3", 2, 0.6),
    )
    cluster = make_sim_cluster(HOSTS, vms, agent=NO_UNDERLOAD)
    cluster.start()
    cluster.wait_for(
        lambda: any(
            p.state == "succeeded" and "overload of h1" in p.reason for p in cluster.plans()
        ),
        40,
        "a plan relieving h1 succeeded",
    )
    cluster.wait_for(cluster.settled, 20, "the controller sees every VM where it is")
    placement = cluster.fleet.placement()
    # One VM of 2400 MHz left h1 (90 % → 60 %) for a host that stays under the 80 % cap.
    assert len(placement["h1"]) == 2
    assert sorted(len(placement[h]) for h in ("h2", "h3")) == [1, 2]
    [moved] = cluster.fleet.migration_history()
    assert moved.source == "h1" and moved.outcome is MigrationOutcome.SUCCEEDED
    [record] = cluster.migrations()
    assert (record.source, record.destination, record.outcome) == (
        "h1",
        moved.destination,
        "succeeded",
    )
    # h1's next samples show it below the overload threshold, and nobody went to sleep.
    cluster.wait_for(
        lambda: _host_mhz(cluster, "h1") == pytest.approx(4800, rel=0.02),
        20,
        "h1's samples show two VMs' load",
    )
    assert all(h.power_state == "active" for h in cluster.admin.hosts())
    assert cluster.admin.stats().aotf > 0


def test_sleeping_host_is_woken_before_migrations_to_it_start(
    make_sim_cluster: SimClusterFactory,
) -> None:
    # First h3 is emptied and sleeps (as above). Then h1 goes into maintenance: h2
    # (60 %) can take at most 1600 MHz more, so h1's VMs of 2400 MHz need h3 back.
    cluster = make_sim_cluster(HOSTS, UNDERLOADED_H3, wake_latency_s=300.0)
    cluster.start()
    consolidate_h3(cluster)
    cluster.admin.maintenance("h1", True)

    seen: list[list[tuple[str, str, str | None]]] = []

    def drained() -> bool:
        plans = [p for p in cluster.plans() if "h1" in p.reason and "maintenance" in p.reason]
        for plan in plans:
            states = [(a.kind, a.state, a.destination or a.host) for a in plan.actions]
            seen.append(states)
            woken = all(s == "succeeded" for k, s, h in states if k == "wake")
            started = [s for k, s, h in states if k == "migrate" and h == "h3" and s != "pending"]
            assert woken or not started, f"a migration to h3 started before it woke: {states}"
        return any(p.state == "succeeded" for p in plans)

    cluster.wait_for(drained, 40, "the drain of h1 succeeded")
    cluster.wait_for(cluster.settled, 20, "the controller sees every VM where it is")
    [plan] = [p for p in cluster.plans() if "maintenance" in p.reason]
    wakes = [a for a in plan.actions if a.kind == "wake"]
    assert [(a.host, a.state) for a in wakes] == [("h3", "succeeded")]
    into_h3 = [a for a in plan.actions if a.kind == "migrate" and a.destination == "h3"]
    assert into_h3 and all(a.state == "succeeded" for a in into_h3)
    assert any(("wake", "ongoing", "h3") in states for states in seen), seen
    # In the fleet: h3 is on, h1 empty, and every move to h3 began once h3 was awake.
    assert cluster.fleet_power("h3") == "on" and cluster.power("h3") == "active"
    assert cluster.fleet.placement()["h1"] == []
    ready = cluster.ready_at("h3")
    to_h3 = [m for m in cluster.fleet.migration_history() if m.destination == "h3"]
    assert len(to_h3) == len(into_h3)
    assert all(m.started_at >= ready and m.outcome is MigrationOutcome.SUCCEEDED for m in to_h3)
    assert cluster.admin.host("h1").maintenance


def _host_mhz(cluster: SimCluster, host: str) -> float:
    return sum(v.cpu_mhz or 0.0 for v in cluster.admin.vms() if v.host == host)
