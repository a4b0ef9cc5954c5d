"""The agent's local manager: what it asks the controller for, and how it retries."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest

from fleetwise.agent.reporter import Outbox
from fleetwise.service.clock import VirtualClock
from fleetwise.service.manager import ServiceRunner
from tests.helpers.agent import (
    STEP,
    TOKEN,
    VM1,
    VM2,
    FakeController,
    config_for,
    make_agent,
    trace_vm,
    two_host_fleet,
    vm_values,
)

EPOCH = 1_700_000_000.0
REALLOC = "PUT /v1/reallocations"
SAMPLES = "POST /v1/agents/a/samples"
JITTER = 0.05 * STEP  # the periodic-task framework delays each run by up to 5 % of its spacing


def overloaded_host(tmp_path: Path, **overrides: object) -> tuple[ServiceRunner, FakeController]:
    """Host ``a`` at (8000 + 1000) / 8000 MHz: overloaded under the default THR 0.8."""
    clock = VirtualClock(epoch=EPOCH)
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [1.0], vcpus=4, ram_mb=1000))
    fleet.add_vm("a", trace_vm(VM2, [0.5], vcpus=2, ram_mb=2000))
    controller = FakeController()
    agent = make_agent(config_for(tmp_path, **overrides), fleet, clock, controller)
    return ServiceRunner([agent], raise_on_error=True), controller


def sent_at(body: dict[str, object]) -> float:
    return datetime.fromisoformat(str(body["sent_at"])).timestamp()


def test_overload_sends_one_request_per_interval_with_the_selected_vms(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path)
    runner.run_for(3 * STEP + JITTER)
    runner.shutdown()

    first = controller.calls[0]
    assert first.route == "PUT /v1/agents/a"
    assert first.authorization == f"Bearer {TOKEN}"
    assert first.body["cpu_cores"] == 4 and first.body["core_mhz"] == 2000.0
    assert {vm["uuid"] for vm in first.body["vms"]} == {VM1, VM2}

    requests = controller.bodies(REALLOC)
    assert len(requests) == 3  # intervals ending at 300, 600 and 900 s
    for k, body in enumerate(requests, start=1):
        assert body["host"] == "a"
        assert body["reason"] == "overload"
        # Minimum migration time: the VM with the least RAM goes, and that is enough.
        assert body["vm_uuids"] == [VM1]
        assert EPOCH + k * STEP <= sent_at(body) <= EPOCH + k * STEP + JITTER

    batches = controller.bodies(SAMPLES)
    assert len(batches) == 3
    assert vm_values(batches[0]) == pytest.approx({VM1: 8000.0, VM2: 2000.0})
    assert all(b["overloaded"] for b in batches)


def test_underload_asks_to_move_every_vm(tmp_path: Path) -> None:
    clock = VirtualClock(epoch=EPOCH)
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.1]))
    fleet.add_vm("a", trace_vm(VM2, [0.2]))
    controller = FakeController()
    runner = ServiceRunner([make_agent(config_for(tmp_path), fleet, clock, controller)])
    runner.run_for(2 * STEP + 1)
    runner.shutdown()
    requests = controller.bodies(REALLOC)
    assert requests, "an almost idle host must ask to be emptied"
    assert requests[-1]["reason"] == "underload"
    assert sorted(requests[-1]["vm_uuids"]) == [VM1, VM2]


def test_a_stale_request_waits_for_the_next_interval(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path)
    controller.fail(REALLOC, 412)
    runner.run_for(2 * STEP - 1)
    assert len(controller.bodies(REALLOC)) == 1  # the 412 at 300 s is not retried
    runner.run_for(JITTER + 2)
    runner.shutdown()
    bodies = controller.bodies(REALLOC)
    assert len(bodies) == 2
    assert EPOCH + 2 * STEP <= sent_at(bodies[1]) <= EPOCH + 2 * STEP + JITTER


def test_connection_errors_are_retried_with_backoff_within_the_interval(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path)
    controller.fail(REALLOC, "connect", "connect", "connect")
    runner.run_for(STEP + JITTER + 30)
    runner.shutdown()
    times = [sent_at(b) - EPOCH for b in controller.bodies(REALLOC)]
    assert len(times) == 4  # three failures, then accepted
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Equal jitter around 1, 2, 4 s, with the delivery task running every second.
    assert 0.5 <= gaps[0] <= 2.0
    assert 1.0 <= gaps[1] <= 3.0
    assert 2.0 <= gaps[2] <= 5.0
    assert all(t < 2 * STEP for t in times)


def test_a_request_not_delivered_within_its_interval_is_dropped(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path)
    controller.fail(REALLOC, *["connect"] * 10_000)
    runner.run_for(2 * STEP - 1)
    attempts = [sent_at(b) - EPOCH for b in controller.bodies(REALLOC)]
    runner.shutdown()
    first = attempts[0]
    # Back-off capped at 8 s (4 to 8 s with jitter): about 40 to 75 attempts until the
    # interval ends, none after that (the next decision is due at 600 s at the earliest).
    assert 300 / 8 <= len(attempts) <= 300 / 4 + 5
    assert all(first <= t < first + STEP for t in attempts)
    late = [t for t in attempts if t > first + 60]
    gaps = [b - a for a, b in itertools.pairwise(late)]
    assert all(4.0 <= g <= 9.0 for g in gaps)


def test_samples_are_queued_while_the_controller_is_down_and_sent_later(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path)
    runner.run_for(1)  # registered, baseline taken
    controller.down = True
    runner.run_for(3 * STEP)
    assert controller.routes(SAMPLES) and not controller.routes(SAMPLES, answered_only=True)
    controller.down = False
    runner.run_for(STEP + JITTER)
    runner.shutdown()
    delivered = [
        datetime.fromisoformat(b["taken_at"]).timestamp() - EPOCH
        for b in controller.bodies(SAMPLES, answered_only=True)
    ]
    # Each interval exactly once, oldest first.
    assert len(delivered) == 4
    for k, t in enumerate(delivered, start=1):
        assert k * STEP <= t <= k * STEP + JITTER


def test_outbox_keeps_only_the_newest_batches(tmp_path: Path) -> None:
    runner, controller = overloaded_host(tmp_path, http={"outbox_limit": 2})
    runner.run_for(1)
    controller.down = True
    runner.run_for(4 * STEP + JITTER)
    runner.shutdown()
    outbox = Outbox.model_validate_json((tmp_path / "outbox.json").read_bytes())
    stamps = [b.taken_at.timestamp() - EPOCH for b in outbox.batches]
    assert len(stamps) == 2  # intervals 3 and 4; 1 and 2 were dropped
    assert 3 * STEP <= stamps[0] <= 3 * STEP + JITTER
    assert 4 * STEP <= stamps[1] <= 4 * STEP + JITTER
