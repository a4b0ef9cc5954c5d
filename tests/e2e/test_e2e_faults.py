"""Faults on a running cluster: a killed controller, failing migrations, a restarted agent.

After each, no VM is lost or on two hosts (checked on every poll), and the controller
records each VM where the fleet file has it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.store import Store
from fleetwise.store.samples import last_host_samples
from fleetwise.store.views import HostCpuSample
from tests.helpers.sim_cluster import (
    HOSTS,
    NO_UNDERLOAD,
    SLOW_DRAIN,
    UNDERLOADED_H3,
    SimCluster,
    SimClusterFactory,
    SimVm,
    consolidate_h3,
    drain_under_way,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def test_controller_killed_mid_plan_resumes_it_after_a_restart(
    make_sim_cluster: SimClusterFactory,
) -> None:
    cluster = make_sim_cluster(HOSTS, **SLOW_DRAIN)
    vms = SLOW_DRAIN["vms"]
    cluster.start()
    cluster.admin.maintenance("h1", True)
    cluster.wait_for(lambda: drain_under_way(cluster), 30, "the drain's first move is under way")
    [plan] = cluster.plans()
    controller = cluster.cluster.controller()
    controller.kill()
    assert controller.returncode == -9
    # The agent finishes the move on its own while the controller is gone.
    cluster.wait_for(lambda: len(cluster.fleet.placement()["h1"]) == 2, 20, "the move ended")
    restarted_at = datetime.now(UTC)
    cluster.cluster.start_controller()
    cluster.wait_for(lambda: cluster.plan_ended(plan.id), 60, "the plan ended after the restart")
    cluster.wait_for(cluster.settled, 20, "the controller sees every VM where it is")
    resumed = cluster.admin.plan(plan.id)
    assert resumed.state == "succeeded", cluster.describe()
    assert cluster.fleet.placement()["h1"] == []
    # Each VM moved exactly once, in the fleet and in the controller's records.
    moves = Counter(m.uuid for m in cluster.fleet.migration_history())
    assert moves == Counter({vm.uuid: 1 for vm in vms[:3]})
    assert all(m.outcome is MigrationOutcome.SUCCEEDED for m in cluster.fleet.migration_history())
    records = cluster.migrations()
    assert sorted(m.vm_uuid for m in records) == sorted(vm.uuid for vm in vms[:3])
    assert all(m.outcome == "succeeded" and m.finished_at is not None for m in records)
    # The move that ran across the crash was settled by the restarted controller.
    first = records[0]
    assert first.started_at < restarted_at and first.finished_at is not None
    assert first.finished_at >= restarted_at
    assert cluster.log("controller").count("controller starting") == 2


def test_failing_migration_is_retried_then_fails_its_plan(
    make_sim_cluster: SimClusterFactory,
) -> None:
    # h3's only VM fails its next three migrations half-way; the controller tries
    # three times (max_attempts), then the action and the plan fail. h3 asks again
    # later, and the fourth migration works.
    cluster = make_sim_cluster(HOSTS, UNDERLOADED_H3, controller={"max_attempts": 3})
    vm5 = UNDERLOADED_H3[-1].uuid
    cluster.fleet.fail_next_migrations(vm5, 3, message="injected: link down")
    cluster.start()

    cluster.wait_for(lambda: cluster.plan_ended(1), 40, "the first plan ended")
    first = cluster.plans()[0]
    assert first.state == "failed", cluster.describe()
    migrate, sleep = first.actions
    assert (migrate.kind, migrate.state, migrate.attempts) == ("migrate", "failed", 3)
    assert migrate.last_error is not None and "injected: link down" in migrate.last_error
    assert (sleep.kind, sleep.state) == ("sleep", "cancelled")
    assert cluster.fleet.locate(vm5) == "h3"
    records = [m for m in cluster.migrations() if m.action_id == migrate.id]
    assert [m.outcome for m in records] == ["failed"] * 3
    assert all("injected: link down" in (m.error or "") for m in records)

    consolidate_h3(cluster)  # the next request gets through
    history = cluster.fleet.migration_history()
    assert [m.outcome for m in history] == [MigrationOutcome.FAILED] * 3 + [
        MigrationOutcome.SUCCEEDED
    ]
    assert [p.state for p in cluster.plans()][:1] == ["failed"]
    assert cluster.plans()[-1].state == "succeeded"


def test_restarted_agent_keeps_its_history_and_detector_state(
    make_sim_cluster: SimClusterFactory,
) -> None:
    # h1's agent runs the stateful OTF detector (limit far off, so it never asks).
    vms = (SimVm(1, "h1", 2, 0.6), SimVm(2, "h2", 2, 0.6), SimVm(3, "h3", 2, 0.6))
    otf = {"local_manager": {"overload": {"name": "otf", "params": {"otf": 1.0, "limit": 1000}}}}
    cluster = make_sim_cluster(HOSTS, vms, agent=NO_UNDERLOAD, agents={"h1": otf})
    cluster.start()
    state = cluster.cluster.state_dir / "agents" / "h1"
    cluster.wait_for(lambda: _decisions(state) >= 3, 30, "h1 decided three times")
    agent = cluster.cluster.agent("h1")
    assert agent.stop() == 0
    history_before = _read(state / "history.json")
    detectors_before = _read(state / "detectors.json")
    samples_before = _controller_samples(cluster, "h1")
    old = history_before["vms"][vms[0].uuid]
    assert len(old) >= 3 and len(samples_before) >= 3

    cluster.cluster.start_agent("h1")
    cluster.wait_for(
        lambda: _decisions(state) >= detectors_before["decisions"] + 3,
        30,
        "h1 decided three more times",
    )
    # The history goes on from where it was.
    history = _read(state / "history.json")
    assert history["vms"][vms[0].uuid][: len(old)] == old
    assert len(history["vms"][vms[0].uuid]) >= len(old) + 3
    # OTF's counters went on from their saved values: one step per decision since.
    detectors = _read(state / "detectors.json")
    since_restart = detectors["decisions"] - detectors_before["decisions"]
    otf_before = detectors_before["detectors"]["overload"]
    otf_after = detectors["detectors"]["overload"]
    assert otf_before["total"] >= 3
    assert otf_after["total"] == otf_before["total"] + since_restart
    assert otf_after["overloaded"] == otf_before["overloaded"] == 0
    # The controller kept the samples from before and gets new ones.
    samples = _controller_samples(cluster, "h1")
    assert samples[: len(samples_before)] == samples_before
    assert len(samples) >= len(samples_before) + 3
    assert samples[-1].host_cpu_mhz == pytest.approx(2400, rel=0.02)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _decisions(state: Path) -> int:
    """How many times the agent's local manager has decided (0 before the first)."""
    try:
        data = json.loads((state / "detectors.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return int(data.get("decisions", 0))


def _controller_samples(cluster: SimCluster, host: str) -> list[HostCpuSample]:
    store = Store.open(
        f"sqlite:///{cluster.cluster.state_dir / 'controller' / 'controller.db'}", migrate=False
    )
    try:
        return list(store.read(last_host_samples, 10_000, [host])[host])
    finally:
        store.close()
