"""What an agent keeps across a restart: history, detector state, unsent samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetwise.agent.history import UsageHistory
from fleetwise.agent.persist import JsonFile, write_atomically
from fleetwise.service.clock import VirtualClock
from fleetwise.service.manager import ServiceRunner
from tests.helpers.agent import (
    STEP,
    VM1,
    VM2,
    FakeController,
    config_for,
    make_agent,
    trace_vm,
    two_host_fleet,
)

JITTER = 0.05 * STEP
OTF = {"name": "otf", "params": {"otf": 0.5, "threshold": 0.8, "limit": 1}}


def test_history_and_detector_state_survive_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.9, 0.2, 0.95], vcpus=4, ram_mb=1000))
    fleet.add_vm("a", trace_vm(VM2, [0.1], ram_mb=500))
    config = config_for(tmp_path, local_manager={"overload": OTF}, history_length=10)
    controller = FakeController()

    first = make_agent(config, fleet, clock, controller)
    runner = ServiceRunner([first], raise_on_error=True)
    runner.run_for(3 * STEP + JITTER)
    runner.shutdown()
    history_before = first.collector.history.model_copy(deep=True)
    state_before = first.decider.state.model_copy(deep=True)
    assert len(history_before.vms[VM1]) == 3
    assert state_before.detectors["overload"] == {"total": 3, "overloaded": 2}

    clock.advance(STEP / 2)  # the agent is down for a while
    second = make_agent(config, fleet, clock, controller)
    assert second.collector.history == history_before
    assert second.decider.state == state_before

    runner = ServiceRunner([second], raise_on_error=True)
    runner.run_for(STEP + JITTER)  # a fresh baseline, then one interval
    runner.shutdown()
    assert second.decider.state.detectors["overload"]["total"] == 4  # counted on, not anew
    assert second.decider.state.decisions == 4
    assert second.collector.history.vms[VM1][:3] == history_before.vms[VM1]
    assert len(second.collector.history.vms[VM1]) == 4


def test_unsent_samples_are_sent_by_the_next_agent(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.3]))
    config = config_for(tmp_path)
    controller = FakeController()
    runner = ServiceRunner([make_agent(config, fleet, clock, controller)])
    runner.run_for(1)
    controller.down = True
    runner.run_for(2 * STEP + JITTER)
    runner.shutdown()
    queued = json.loads((tmp_path / "outbox.json").read_text())["batches"]
    assert len(queued) == 2

    controller.down = False
    runner = ServiceRunner([make_agent(config, fleet, clock, controller)])
    runner.run_for(2)
    runner.shutdown()
    sent = controller.bodies("POST /v1/agents/a/samples", answered_only=True)
    assert [b["taken_at"] for b in sent] == [b["taken_at"] for b in queued]
    assert json.loads((tmp_path / "outbox.json").read_text())["batches"] == []


def test_an_unreadable_state_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"length": 5, "vms": {"x": [1.0, ')  # cut short by a crash
    default = UsageHistory(length=5)
    assert JsonFile(path, UsageHistory).load(default) == default
    assert not path.exists()
    assert [p.name.split(".corrupt-")[0] for p in tmp_path.iterdir()] == ["history.json"]


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomically(path, b"old content that is rather long")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


@pytest.mark.parametrize("length", [2, 50])
def test_a_changed_history_length_applies_to_the_saved_history(tmp_path: Path, length: int) -> None:
    saved = UsageHistory(length=5, vms={VM1: [1.0, 2.0, 3.0, 4.0, 5.0]}, hypervisor=[9.0] * 5)
    JsonFile(tmp_path / "history.json", UsageHistory).save(saved)
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    agent = make_agent(config_for(tmp_path, history_length=length), fleet, clock, FakeController())
    assert agent.collector.history.length == length
    assert agent.collector.history.vms[VM1] == [1.0, 2.0, 3.0, 4.0, 5.0][-length:]
