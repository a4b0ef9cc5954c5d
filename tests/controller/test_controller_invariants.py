"""Whatever fails, the controller records each VM on one host where it really was.

A randomised world: agents that complete, fail or lose the results of their
migrations, hosts that report at random moments, time that passes beyond the
migration timeout, and controller restarts. The store may lag behind the truth, but
it never places a VM where the VM has never been, never loses one, and agrees with
the truth once every host has reported again.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwise.drivers.power.base import PowerState
from fleetwise.service import VirtualClock
from fleetwise.store.migration_log import unfinished_migrations
from tests.helpers.controller import HOSTS, T0, Harness, make_config, simulated_power, vm, vm_uuid

LAYOUT = {"h1": {1: 300.0, 2: 300.0}, "h2": {3: 1500.0}, "h3": {4: 200.0}, "h4": {5: 2500.0}}
STEPS = st.sampled_from(["agent", "report", "execute", "advance", "round", "restart"])
OUTCOMES = ["ok", "fail", "lost", "lost-failed"]


class World:
    """The truth about the VMs, and agents that act on assignments."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.where = {n: h for h, vms in LAYOUT.items() for n in vms}
        self.seen = {n: {h} for n, h in self.where.items()}
        self.busy: set[int] = set()  # actions an agent believes it has finished

    def awake(self, harness: Harness) -> list[str]:
        return [h for h in LAYOUT if harness.power.status(h) is PowerState.ON]

    def report(self, harness: Harness, host: str) -> None:
        harness.heartbeat(host, [vm(n) for n, h in sorted(self.where.items()) if h == host])

    def run_agent(self, harness: Harness, host: str) -> None:
        for assignment in harness.assignments(host):
            action = assignment["action_id"]
            if action in self.busy:
                continue
            n = next(k for k in self.where if vm_uuid(k) == assignment["vm_uuid"])
            outcome = self.rng.choice(OUTCOMES) if self.where[n] == host else "fail"
            if outcome in ("ok", "lost"):
                self.where[n] = assignment["destination_host"]
                self.seen[n].add(self.where[n])
            if outcome.startswith("lost"):
                self.busy.add(action)
                continue
            path = f"/v1/actions/{action}/result"
            response = harness.call("POST", path, host, {"ok": outcome == "ok", "error": "x"})
            assert response.status_code in (204, 409), response.text

    def check(self, harness: Harness) -> None:
        recorded = harness.vm_hosts()
        assert set(recorded) == set(self.where)
        for n, host in recorded.items():
            assert host is None or host in self.seen[n], (n, host, self.seen[n])
        running = harness.context.store.read(unfinished_migrations)
        assert len({m.vm_uuid for m in running}) == len(running)


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(steps=st.lists(STEPS, min_size=5, max_size=25), seed=st.integers(0, 2**16))
def test_vm_locations_stay_true_whatever_fails(steps: list[str], seed: int) -> None:
    rng = random.Random(seed)
    world = World(rng)
    clock = VirtualClock(epoch=T0.timestamp())
    power = simulated_power(clock)
    with tempfile.TemporaryDirectory() as tmp:
        config = {"migration_timeout_s": 200, "plan_round_spacing_s": 60}

        def start() -> Harness:
            return Harness(make_config(Path(tmp), **config), clock, power)

        harness = start()
        try:
            harness.build_fleet(LAYOUT)
            harness.ok("POST", "/v1/hosts/h1/maintenance", json={"on": True})
            harness.reallocate("h3", "underload")
            harness.plan_round()
            for step in steps:
                awake = world.awake(harness)
                if step == "agent" and awake:
                    world.run_agent(harness, rng.choice(awake))
                elif step == "report" and awake:
                    world.report(harness, rng.choice(awake))
                elif step == "execute":
                    harness.execute()
                elif step == "advance":
                    harness.advance(250)
                    for host in world.awake(harness):
                        harness.heartbeat(host)
                elif step == "round":
                    harness.plan_round()
                elif step == "restart":
                    harness.close()
                    harness.advance(5)
                    harness = start()
                world.check(harness)
            for _ in range(3):  # quiet down: every host reports, the executor catches up
                harness.advance(250)
                for host in world.awake(harness):
                    world.report(harness, host)
                harness.execute()
            world.check(harness)
            assert harness.vm_hosts() == world.where
        finally:
            harness.close()
    assert set(HOSTS) >= set(LAYOUT)
