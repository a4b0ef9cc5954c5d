"""The global manager's round and the action planner."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwise.core.global_manager import (
    ClusterSnapshot,
    GlobalManagerConfig,
    HostState,
    PlacedVm,
    ReallocationRequest,
    plan_reallocation,
)
from fleetwise.core.planner import build_plan

CONFIG = GlobalManagerConfig()  # BFD, 80 % CPU / 95 % RAM caps, no spare hosts


def host(name: str, awake: bool = True, maintenance: bool = False) -> HostState:
    return HostState(name, 1000.0, 1000.0, awake, maintenance)


def test_underloaded_host_is_emptied_onto_busy_hosts_and_put_to_sleep() -> None:
    # a: 100 used; b: 500; c: empty and awake. Caps 800: a's VM fits on b (500 + 100).
    snap = ClusterSnapshot.of(
        (host("a"), host("b"), host("c")),
        (PlacedVm("v1", "a", 100, 100), PlacedVm("v2", "b", 500, 100)),
    )
    sol = plan_reallocation(snap, (ReallocationRequest("a", "underload"),), CONFIG)
    assert [(m.vm_id, m.source, m.destination) for m in sol.migrations] == [("v1", "a", "b")]
    assert sol.wake == ()
    # Empty awake hosts go to sleep: a once emptied, c already.
    assert sorted(sol.sleep) == ["a", "c"]


def test_underload_is_all_or_nothing_and_never_wakes_hosts() -> None:
    # a holds 300 + 300; b has room for only one of them (800 − 400 = 400).
    snap = ClusterSnapshot.of(
        (host("a"), host("b"), host("z", awake=False)),
        (PlacedVm("v1", "a", 300, 10), PlacedVm("v2", "a", 300, 10), PlacedVm("v3", "b", 400, 10)),
    )
    sol = plan_reallocation(snap, (ReallocationRequest("a", "underload"),), CONFIG)
    assert sol.migrations == () and sol.wake == ()
    assert "a" not in sol.sleep


def test_overload_wakes_a_sleeping_host_when_no_awake_host_fits() -> None:
    snap = ClusterSnapshot.of(
        (host("a"), host("b"), host("z", awake=False)),
        (PlacedVm("v1", "a", 700, 10), PlacedVm("v2", "a", 250, 10), PlacedVm("v3", "b", 700, 10)),
    )
    sol = plan_reallocation(snap, (ReallocationRequest("a", "overload", ("v2",)),), CONFIG)
    assert [(m.vm_id, m.destination) for m in sol.migrations] == [("v2", "z")]
    assert sol.wake == ("z",)
    plan = build_plan(sol)
    assert [a.kind for a in plan] == ["wake", "migrate"]
    assert plan[1].depends_on == (0,)  # the migration waits for the wake-up


def test_maintenance_drains_the_host_and_keeps_it_out_of_placement() -> None:
    snap = ClusterSnapshot.of(
        (host("a", maintenance=True), host("b"), host("c")),
        (PlacedVm("v1", "a", 300, 10), PlacedVm("v2", "b", 100, 10)),
    )
    sol = plan_reallocation(snap, (), CONFIG)
    assert [(m.vm_id, m.destination) for m in sol.migrations] == [("v1", "b")]
    # An overload elsewhere never lands on the host in maintenance.
    snap2 = ClusterSnapshot.of(
        (host("a", maintenance=True), host("b")),
        (PlacedVm("v2", "b", 700, 10), PlacedVm("v3", "b", 200, 10)),
    )
    sol2 = plan_reallocation(snap2, (ReallocationRequest("b", "overload", ("v3",)),), CONFIG)
    assert sol2.migrations == ()
    assert sol2.notes and "v3" in sol2.notes[0]


def test_spare_hosts_stay_awake() -> None:
    snap = ClusterSnapshot.of((host("a"), host("b"), host("c")), (PlacedVm("v", "a", 100, 10),))
    sol = plan_reallocation(snap, (), GlobalManagerConfig(spare_hosts=1))
    assert len(sol.sleep) == 1 and sol.sleep[0] in ("b", "c")


def test_sleep_waits_for_every_migration_off_the_host() -> None:
    snap = ClusterSnapshot.of(
        (host("a"), host("b")),
        (PlacedVm("v1", "a", 100, 10), PlacedVm("v2", "a", 100, 10), PlacedVm("v3", "b", 100, 10)),
    )
    sol = plan_reallocation(snap, (ReallocationRequest("a", "underload"),), CONFIG)
    plan = build_plan(sol)
    sleep = [a for a in plan if a.kind == "sleep"]
    migrations = [a.seq for a in plan if a.kind == "migrate"]
    assert len(migrations) == 2 and sleep[0].host_id == "a"
    assert sorted(sleep[0].depends_on) == sorted(migrations)


def test_requests_from_unknown_hosts_and_vms_elsewhere_are_ignored() -> None:
    snap = ClusterSnapshot.of((host("a"), host("b")), (PlacedVm("v1", "b", 100, 10),))
    sol = plan_reallocation(
        snap,
        (ReallocationRequest("ghost", "underload"), ReallocationRequest("a", "overload", ("v1",))),
        CONFIG,
    )
    assert sol.migrations == ()
    assert any("ghost" in n for n in sol.notes)


hosts_st = st.lists(
    st.tuples(st.floats(500, 4000), st.floats(500, 8000), st.booleans(), st.booleans()),
    min_size=2,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(hosts=hosts_st, data=st.data())
def test_round_never_loses_or_duplicates_a_vm_and_respects_caps(
    hosts: list[tuple[float, float, bool, bool]], data: st.DataObject
) -> None:
    states = tuple(
        HostState(f"h{i}", cpu, ram, awake, maint)
        for i, (cpu, ram, awake, maint) in enumerate(hosts)
    )
    awake_ids = [h.host_id for h in states if h.awake]
    if not awake_ids:
        return
    n = data.draw(st.integers(0, 12))
    vms = tuple(
        PlacedVm(
            f"v{j}",
            data.draw(st.sampled_from(awake_ids)),
            data.draw(st.floats(0, 800)),
            data.draw(st.floats(0, 1500)),
        )
        for j in range(n)
    )
    reqs = tuple(
        ReallocationRequest(h, data.draw(st.sampled_from(["underload", "overload"])),
                            tuple(v.vm_id for v in vms if v.host_id == h))
        for h in data.draw(st.lists(st.sampled_from(awake_ids), unique=True))
    )  # fmt: skip
    sol = plan_reallocation(ClusterSnapshot.of(states, vms), reqs, CONFIG)
    where = {v.vm_id: v.host_id for v in vms}
    moved = Counter(m.vm_id for m in sol.migrations)
    assert all(c == 1 for c in moved.values()), "a VM is moved twice"
    for m in sol.migrations:
        assert m.source == where[m.vm_id] != m.destination
        where[m.vm_id] = m.destination
    by_id = {h.host_id: h for h in states}
    woken = set(sol.wake)
    assert all(not by_id[h].awake for h in woken)
    for m in sol.migrations:
        dst = by_id[m.destination]
        assert not dst.maintenance
        assert dst.awake or m.destination in woken
    # caps hold on every host that received VMs
    for h in {m.destination for m in sol.migrations}:
        cpu = sum(v.cpu for v in vms if where[v.vm_id] == h)
        ram = sum(v.ram for v in vms if where[v.vm_id] == h)
        if any(v.host_id == h for v in vms):
            continue  # pre-existing load may already exceed the caps
        assert cpu <= 0.8 * by_id[h].cpu_total + 1e-6
        assert ram <= 0.95 * by_id[h].ram_total + 1e-6
    # hosts put to sleep end up empty and were awake
    for h in sol.sleep:
        assert by_id[h].awake and h not in woken
        assert not any(where[v] == h for v in where)
    # the plan lists every action once, dependencies point backwards
    plan = build_plan(sol)
    assert len(plan) == len(sol.migrations) + len(sol.wake) + len(sol.sleep)
    assert all(d < a.seq for a in plan for d in a.depends_on)


def test_migrations_into_a_host_wait_for_those_leaving_it() -> None:
    # A solution where h2 both sends v2 away and receives v1 (as a maintenance drain
    # of h1 could produce): the arrival is listed after, and depends on, the departure.
    from fleetwise.core.global_manager import Migration, Solution

    sol = Solution(migrations=(Migration("v1", "h1", "h2"), Migration("v2", "h2", "h3")))
    plan = build_plan(sol)
    by_vm = {a.vm_id: a for a in plan}
    assert by_vm["v2"].seq < by_vm["v1"].seq
    assert by_vm["v1"].depends_on == (by_vm["v2"].seq,)


def test_underloaded_hosts_are_not_emptied_onto_a_host_being_relieved() -> None:
    # h1 is overloaded (sends v1 away); h2 is underloaded. h1 would be the tightest fit
    # for h2's VM once v1 leaves, but a host being relieved this round is no target.
    snap = ClusterSnapshot.of(
        (host("h1"), host("h2"), host("h3")),
        (
            PlacedVm("v1", "h1", 500, 10),
            PlacedVm("v9", "h1", 250, 10),
            PlacedVm("v2", "h2", 100, 10),
            PlacedVm("v3", "h3", 250, 10),  # h3 takes v1 (750 of 800) and has no room left
        ),
    )
    reqs = (
        ReallocationRequest("h1", "overload", ("v1",)),
        ReallocationRequest("h2", "underload"),
    )
    sol = plan_reallocation(snap, reqs, CONFIG)
    assert [(m.vm_id, m.destination) for m in sol.migrations] == [("v1", "h3")]
    assert all(m.destination != "h1" for m in sol.migrations)
