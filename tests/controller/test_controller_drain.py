"""Maintenance drains a host and keeps it out of placement; migration caps are respected."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.execution import MigrationCaps, MigrationSlots
from fleetwise.core.round import RequestOutcome
from fleetwise.store.migration_log import unfinished_migrations
from fleetwise.store.reallocation import list_requests
from tests.helpers.controller import HarnessFactory


def test_maintenance_drains_the_host_and_keeps_it_awake(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    harness.build_fleet({"h1": {1: 500.0}, "h2": {2: 800.0, 3: 700.0}, "h3": {4: 900.0}})
    assert harness.plan_round() is None  # nothing asked for, nothing to drain
    harness.ok("POST", "/v1/hosts/h2/maintenance", json={"on": True})
    plan = harness.plan_round()
    assert plan is not None and plan.reason == "maintenance of h2"
    actions = harness.plan(plan.id)["actions"]
    assert {(a["kind"], a["source"]) for a in actions} == {("migrate", "h2")}
    for _ in range(4):
        harness.execute()
        harness.finish_assignments("h2")
    assert harness.state_of(plan.id)[0] == "succeeded"
    hosts = harness.vm_hosts()
    assert "h2" not in hosts.values() and len(hosts) == 4
    assert harness.ok("GET", "/v1/hosts/h2")["power_state"] == "active"
    assert harness.plan_round() is None  # drained: no further plan


def test_host_in_maintenance_is_no_destination(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    # Only the empty h2 has room for h1's VM 1.
    harness.build_fleet({"h1": {1: 3000.0, 2: 3000.0}, "h2": {}, "h3": {3: 6000.0}})
    harness.ok("POST", "/v1/hosts/h2/maintenance", json={"on": True})
    harness.reallocate("h1", "overload", [1])
    assert harness.plan_round() is None
    assert harness.context.store.read(list_requests)[0].outcome is RequestOutcome.NO_PLACEMENT

    harness.ok("POST", "/v1/hosts/h2/maintenance", json={"on": False})
    harness.reallocate("h1", "overload", [1])
    plan = harness.plan_round()
    assert plan is not None
    (action,) = harness.plan(plan.id)["actions"]
    assert (action["kind"], action["destination"]) == ("migrate", "h2")


CAPS = [
    pytest.param(MigrationCaps(total=4, per_source=1, per_destination=2), id="defaults"),
    pytest.param(MigrationCaps(total=1, per_source=1, per_destination=1), id="serial"),
    pytest.param(MigrationCaps(total=3, per_source=3, per_destination=1), id="one-per-dest"),
    pytest.param(MigrationCaps(total=2, per_source=2, per_destination=2), id="two-at-once"),
]


@pytest.mark.parametrize("caps", CAPS)
def test_executor_never_exceeds_the_caps(make_harness: HarnessFactory, caps: MigrationCaps) -> None:
    harness = make_harness(migration_caps=caps.model_dump())
    harness.build_fleet(
        {
            "h1": {1: 200.0, 2: 200.0, 3: 200.0},
            "h2": {4: 200.0, 5: 200.0, 6: 200.0},
            "h3": {7: 100.0},
            "h4": {8: 100.0},
            "h5": {9: 100.0},
        }
    )
    for host in ("h1", "h2"):
        harness.ok("POST", f"/v1/hosts/{host}/maintenance", json={"on": True})
    plan = harness.plan_round()
    assert plan is not None and len(plan.actions) == 6
    by_source = Counter(a.source_host for a in plan.actions)
    by_destination = Counter(a.destination_host for a in plan.actions)
    bound = min(
        caps.total,
        sum(min(caps.per_source, n) for n in by_source.values()),
        sum(min(caps.per_destination, n) for n in by_destination.values()),
    )
    peak = 0
    for _ in range(30):
        harness.execute()
        running = harness.context.store.read(unfinished_migrations)
        sources = Counter(m.source_host for m in running)
        destinations = Counter(m.destination_host for m in running)
        assert len(running) <= caps.total
        assert max(sources.values(), default=0) <= caps.per_source
        assert max(destinations.values(), default=0) <= caps.per_destination
        peak = max(peak, len(running))
        for host in ("h1", "h2"):
            harness.finish_assignments(host)
        if harness.state_of(plan.id)[0] == "succeeded":
            break
    assert harness.state_of(plan.id)[0] == "succeeded"
    assert 1 <= peak <= bound
    assert peak > 1 or bound == 1  # parallel when the caps and the plan allow it
    assert not {"h1", "h2"} & set(harness.vm_hosts().values())


HOSTS = st.sampled_from(["a", "b", "c", "d"])


@given(
    total=st.integers(1, 5),
    per_source=st.integers(1, 3),
    per_destination=st.integers(1, 3),
    wanted=st.lists(st.tuples(HOSTS, HOSTS).filter(lambda p: p[0] != p[1]), max_size=30),
)
def test_slots_grant_exactly_what_the_caps_allow(
    total: int, per_source: int, per_destination: int, wanted: list[tuple[str, str]]
) -> None:
    caps = MigrationCaps(total=total, per_source=per_source, per_destination=per_destination)
    slots = MigrationSlots(caps)
    granted: list[tuple[str, str]] = []
    for source, destination in wanted:
        fits = (
            len(granted) < total
            and sum(s == source for s, _ in granted) < per_source
            and sum(d == destination for _, d in granted) < per_destination
        )
        assert slots.take(source, destination) is fits
        if fits:
            granted.append((source, destination))
    for source, destination in granted:
        slots.release(source, destination)
    assert all(slots.can_start(s, d) for s, d in wanted)
