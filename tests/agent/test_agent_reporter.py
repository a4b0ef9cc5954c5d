"""Registration, heartbeats and the back-off shared by the agent's requests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fleetwise.agent.backoff import Backoff
from fleetwise.service.clock import VirtualClock
from fleetwise.service.manager import ServiceRunner
from tests.helpers.agent import STEP, VM1, VM2, FakeController, config_for, make_agent, trace_vm
from tests.helpers.agent import two_host_fleet as fleet_of

JITTER = 0.05 * STEP


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(1.0, 16.0, 2.0, random.Random(3))
    delays = [backoff.failed(0.0) for _ in range(7)]
    for delay, base in zip(delays, [1, 2, 4, 8, 16, 16, 16], strict=True):
        assert base / 2 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered, not in lockstep
    assert not backoff.ready(backoff.next_at - 0.01) and backoff.ready(backoff.next_at)
    backoff.succeeded()
    assert backoff.ready(0.0) and backoff.failures == 0
    assert 0.5 <= backoff.failed(0.0) <= 1.0


def test_backoff_waits_real_seconds_on_a_fast_clock() -> None:
    backoff = Backoff(2.0, 60.0, clock_speed=100.0, rng=random.Random(5))
    delay = backoff.failed(1000.0)  # real seconds
    assert 1.0 <= delay <= 2.0
    assert backoff.next_at == pytest.approx(1000.0 + 100.0 * delay)


def test_heartbeats_carry_the_vm_list(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = fleet_of(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.3], vcpus=2, ram_mb=1024))
    controller = FakeController()
    runner = ServiceRunner([make_agent(config_for(tmp_path), fleet, clock, controller)])
    runner.run_for(95)
    fleet.add_vm("a", trace_vm(VM2, [0.3]))
    runner.run_for(30)
    runner.shutdown()
    beats = controller.bodies(r"POST /v1/agents/a/heartbeat")
    assert len(beats) == 5  # one VM report after the first collection, then every 30 s
    assert beats[1]["vms"] == [
        {"uuid": VM1, "name": "vm-1", "vcpus": 2, "ram_mb": 1024, "state": "running"}
    ]
    assert sorted(vm["uuid"] for vm in beats[-1]["vms"]) == [VM1, VM2]


def test_a_new_vm_is_reported_before_the_samples_that_name_it(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = fleet_of(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.3]))
    controller = FakeController()
    runner = ServiceRunner(
        [
            make_agent(
                config_for(tmp_path, intervals={"heartbeat_s": 10_000}), fleet, clock, controller
            )
        ]
    )
    runner.run_for(STEP + JITTER)
    fleet.add_vm("a", trace_vm(VM2, [0.3]))
    runner.run_for(2 * STEP)
    runner.shutdown()
    routes = [c.route.rsplit("/", 1)[1] for c in controller.calls if "/agents/a/" in c.route]
    first_with_vm2 = next(
        i
        for i, c in enumerate(controller.calls)
        if c.route.endswith("/samples") and VM2 in str(c.body)
    )
    before = [c for c in controller.calls[:first_with_vm2] if c.route.endswith("/heartbeat")]
    assert before and VM2 in str(before[-1].body["vms"])
    assert routes.count("samples") == 3


def test_a_controller_that_forgot_the_host_gets_a_new_registration(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = fleet_of(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.3]))
    controller = FakeController()
    controller.fail(r"POST /v1/agents/a/samples", 404)
    runner = ServiceRunner([make_agent(config_for(tmp_path), fleet, clock, controller)])
    runner.run_for(STEP + JITTER)
    runner.shutdown()
    routes = [
        c.route for c in controller.calls if c.route.startswith(("PUT", "POST /v1/agents/a/s"))
    ]
    assert routes == [
        "PUT /v1/agents/a",
        "POST /v1/agents/a/samples",  # 404: unknown host
        "PUT /v1/agents/a",
        "POST /v1/agents/a/samples",  # the same batch, accepted
        "PUT /v1/reallocations",
    ]
    first, second = controller.bodies(r"POST /v1/agents/a/samples")
    assert first == second


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_registration_is_retried_slowly_and_nothing_else_is_sent(
    tmp_path: Path, status: int
) -> None:
    clock = VirtualClock()
    fleet = fleet_of(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.3]))
    controller = FakeController()
    controller.fail(r"PUT /v1/agents/a", *[status] * 1000)
    runner = ServiceRunner([make_agent(config_for(tmp_path), fleet, clock, controller)])
    runner.run_for(120)
    runner.shutdown()
    assert {c.route for c in controller.calls} == {"PUT /v1/agents/a"}
    # Back-off 1, 2, 4, then 8 s at most (4 to 8 s with jitter): about 15 to 30 tries.
    assert 12 <= len(controller.calls) <= 32
