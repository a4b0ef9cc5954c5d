"""VM placement: BFD under caps and power-aware BFD, by hand and by invariant."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.placement import PLACEMENT, HostCapacity, Placement, VmDemand
from fleetwise.core.power import POWER_MODELS, LinearPowerModel, PowerModel, power_model
from fleetwise.errors import InputError

G4 = power_model("hp-ml110-g4")
G5 = power_model("hp-ml110-g5")
EFFICIENT = LinearPowerModel("efficient", idle_w=50.0, peak_w=60.0, sleep_w=45.0)
STEEP = LinearPowerModel("steep", idle_w=100.0, peak_w=400.0)


def host(
    name: str,
    cpu: float,
    used: float = 0.0,
    *,
    ram: float = 4096.0,
    ram_used: float = 0.0,
    awake: bool = True,
    power: PowerModel | None = G4,
) -> HostCapacity:
    return HostCapacity(name, cpu, ram, used, ram_used, awake, power)


def vm(name: str, cpu: float, ram: float = 100.0) -> VmDemand:
    return VmDemand(name, cpu, ram)


def place(
    algorithm: str, hosts: Sequence[HostCapacity], vms: Sequence[VmDemand], **params: object
) -> Placement:
    placement: Callable[..., Placement] = PLACEMENT.build(algorithm, params)
    return placement(tuple(hosts), tuple(vms))


# ------------------------------------------------------------------ BFD by hand


def test_bfd_puts_each_vm_on_the_tightest_host_that_fits() -> None:
    # Caps 0.8: free CPU A = 800, B = 800 − 300 = 500, C = 800 − 600 = 200.
    # 400 -> fits A, B; tightest B (500 -> 100). 250 -> only A (800 -> 550).
    # 150 -> fits A (550), C (200); tightest C.
    hosts = [host("A", 1000), host("B", 1000, 300), host("C", 1000, 600)]
    result = place("bfd", hosts, [vm("v3", 150), vm("v1", 400), vm("v2", 250)])
    assert result == Placement(assignments={"v1": "B", "v2": "A", "v3": "C"})
    assert result.complete


def test_bfd_recomputes_the_fit_after_every_placement() -> None:
    # Caps 1: C has 350, B 400. 360 only fits B (-> 40); 30 then fits B more tightly (40)
    # than C (350). Neat's once-sorted list would have kept C first.
    hosts = [host("C", 350), host("B", 400)]
    result = place("bfd", hosts, [vm("v1", 360), vm("v2", 30)], cpu_threshold=1.0)
    assert result.assignments == {"v1": "B", "v2": "B"}


def test_bfd_cpu_cap_is_respected_to_the_boundary() -> None:
    # cap 0.75 · 1000 − 450 used = 300 free.
    hosts = [host("A", 1000, 450)]
    assert place("bfd", hosts, [vm("v", 300)], cpu_threshold=0.75).assignments == {"v": "A"}
    assert place("bfd", hosts, [vm("v", 300.5)], cpu_threshold=0.75) == Placement(unplaced=("v",))
    # Two VMs of 150 fill it exactly; a third does not fit.
    two = place("bfd", hosts, [vm("a", 150), vm("b", 150)], cpu_threshold=0.75)
    assert two.complete
    three = place("bfd", hosts, [vm("a", 150), vm("b", 150), vm("c", 150)], cpu_threshold=0.75)
    assert three.assignments == {}


def test_bfd_ram_cap_is_respected_to_the_boundary() -> None:
    # cap 0.5 · 4096 − 1024 used = 1024 MB free.
    hosts = [host("A", 1000, ram=4096, ram_used=1024)]
    assert place("bfd", hosts, [vm("v", 10, 1024)], ram_threshold=0.5).complete
    assert not place("bfd", hosts, [vm("v", 10, 1025)], ram_threshold=0.5).complete


def test_bfd_default_caps_are_80_and_95_percent() -> None:
    hosts = [host("A", 1000, ram=1000)]
    assert place("bfd", hosts, [vm("v", 800, 940)]).complete
    assert not place("bfd", hosts, [vm("v", 801, 940)]).complete
    assert not place("bfd", hosts, [vm("v", 800, 951)]).complete


def test_bfd_wakes_the_smallest_sleeping_host_that_fits() -> None:
    # A (awake) has 800 − 700 = 100 free. Sleeping: S1 4000 (3200 free), S3 1000 (800 free,
    # too small for 1000), S2 2000 (1600 free). The 1000 VM wakes S2, the smallest that fits;
    # the 500 VM then goes to S2 (awake now, 600 left) without waking anything else.
    hosts = [
        host("A", 1000, 700),
        host("S1", 4000, awake=False),
        host("S3", 1000, awake=False),
        host("S2", 2000, awake=False),
    ]
    result = place("bfd", hosts, [vm("v1", 1000), vm("v2", 500)])
    assert result == Placement(assignments={"v1": "S2", "v2": "S2"}, wake=("S2",))


def test_bfd_prefers_any_awake_host_to_a_sleeping_one() -> None:
    hosts = [host("S", 300, awake=False), host("A", 4000)]
    assert place("bfd", hosts, [vm("v", 200)]) == Placement(assignments={"v": "A"})


def test_bfd_ties_go_to_the_first_host_and_vms_go_largest_first() -> None:
    hosts = [host("A", 250), host("B", 250)]
    # Caps 1. Same CPU: the larger RAM first. b -> A (first of equal fits), a -> B.
    result = place("bfd", hosts, [vm("a", 200, 100), vm("b", 200, 200)], cpu_threshold=1.0)
    assert result.assignments == {"b": "A", "a": "B"}
    # Only room for one: the larger-RAM VM gets it.
    partial = place(
        "bfd",
        hosts[:1],
        [vm("a", 200, 100), vm("b", 200, 200)],
        cpu_threshold=1.0,
        all_or_nothing=False,
    )
    assert partial == Placement(assignments={"b": "A"}, unplaced=("a",))


def test_bfd_all_or_nothing() -> None:
    # A has 500 free, S (asleep) 200. 400 -> A; 300 -> nothing fits (A 100, S 200).
    # 150 -> A has 100, so S is woken.
    hosts = [host("A", 1000, 300), host("S", 250, awake=False)]
    vms = [vm("v1", 400), vm("v2", 300), vm("v3", 150)]
    partial = place("bfd", hosts, vms, all_or_nothing=False)
    assert partial == Placement(assignments={"v1": "A", "v3": "S"}, wake=("S",), unplaced=("v2",))
    assert not partial.complete
    # By default nothing is placed and nothing woken when one VM does not fit.
    assert place("bfd", hosts, vms) == Placement(unplaced=("v2",))


def test_bfd_with_nothing_to_place() -> None:
    assert place("bfd", [host("A", 1000)], []) == Placement()
    assert place("bfd", [], [vm("v", 1)]) == Placement(unplaced=("v",))


# ---------------------------------------------------------------- PABFD by hand


def test_pabfd_picks_the_smallest_power_increase() -> None:
    # VM of 1000 MIPS on empty awake hosts:
    # G4 (3720): u = 0.26882, P = 92.6 + 0.34·6.882 = 94.940, +8.940 W over 86.
    # G5 (5320): u = 0.18797, P = 97 + 0.4·8.797 = 100.519, +6.819 W over 93.7.  -> G5.
    hosts = [host("g4", 3720, power=G4), host("g5", 5320, power=G5)]
    assert place("pabfd", hosts, [vm("v", 1000)]).assignments == {"v": "g5"}


def test_pabfd_counts_the_current_load_of_a_host() -> None:
    # VM of 186 MIPS. G4 at 2232/3720 = 0.6 (106 W) -> 0.65: 106 + 0.2·5 = 107 W, +1.0 W.
    # Empty G5: 186/5320 = 0.03496 -> 93.7 + 0.33·3.496 = 94.854 W, +1.154 W.  -> G4.
    hosts = [host("g5", 5320, power=G5), host("g4", 3720, 2232, power=G4)]
    assert place("pabfd", hosts, [vm("v", 186)]).assignments == {"v": "g4"}


def test_pabfd_updates_host_load_between_vms() -> None:
    # Two G4 hosts, two VMs of 10 %: the first goes to h0 (tie, +3.4 W each); the second
    # costs +3.2 W on h0 (89.4 -> 92.6) against +3.4 W on h1 -> h0 again.
    g4s = [host("h0", 3720, power=G4), host("h1", 3720, power=G4)]
    assert place("pabfd", g4s, [vm("a", 372), vm("b", 372)]).assignments == {
        "a": "h0",
        "b": "h0",
    }
    # Two G5 hosts: the second VM would cost +4 W on h0 (97 -> 101) but +3.3 W on h1.
    g5s = [host("h0", 5320, power=G5), host("h1", 5320, power=G5)]
    assert place("pabfd", g5s, [vm("a", 532), vm("b", 532)]).assignments == {
        "a": "h0",
        "b": "h1",
    }


def test_pabfd_prefers_the_awake_host_unless_the_sleeping_one_is_cheaper() -> None:
    # VM of 300 on hosts of 1000. Awake A (100 W idle, 400 W peak) at 0.2: 160 -> 250, +90 W.
    awake = host("A", 1000, 200, power=STEEP)
    # Sleeping G4 (0 W asleep): 0 -> P(0.3) = 96 W, +96 W. The awake host wins.
    sleeping_g4 = host("S", 1000, awake=False, power=G4)
    assert place("pabfd", [awake, sleeping_g4], [vm("v", 300)]) == Placement(assignments={"v": "A"})
    # Sleeping efficient host (45 W asleep, 50-60 W): 45 -> 53 W, +8 W. It is woken.
    sleeping_efficient = host("S", 1000, awake=False, power=EFFICIENT)
    assert place("pabfd", [awake, sleeping_efficient], [vm("v", 300)]) == Placement(
        assignments={"v": "S"}, wake=("S",)
    )


def test_pabfd_may_fill_a_host_completely_by_default() -> None:
    hosts = [host("A", 1000, 400)]
    assert place("pabfd", hosts, [vm("v", 600)]).assignments == {"v": "A"}
    assert place("pabfd", hosts, [vm("v", 601)]) == Placement(unplaced=("v",))
    assert not place("pabfd", hosts, [vm("v", 600)], cpu_threshold=0.8).complete


def test_pabfd_all_or_nothing() -> None:
    hosts = [host("A", 1000, 500), host("S", 1000, awake=False, power=G5)]
    vms = [vm("big", 2000), vm("small", 100)]
    assert place("pabfd", hosts, vms) == Placement(unplaced=("big",))
    partial = place("pabfd", hosts, vms, all_or_nothing=False)
    assert partial == Placement(assignments={"small": "A"}, unplaced=("big",))


def test_pabfd_without_a_power_model_is_an_input_error() -> None:
    with pytest.raises(InputError, match="H1"):
        place("pabfd", [host("H1", 1000, power=None)], [vm("v", 100)])


# ---------------------------------------------------------------- invariants

MODELS = [*POWER_MODELS.values(), EFFICIENT, STEEP]


class Scenario(NamedTuple):
    hosts: list[HostCapacity]
    vms: list[VmDemand]
    cpu_cap: float
    ram_cap: float
    all_or_nothing: bool

    def run(
        self,
        algorithm: str,
        hosts: Sequence[HostCapacity] | None = None,
        vms: Sequence[VmDemand] | None = None,
    ) -> Placement:
        return place(
            algorithm,
            self.hosts if hosts is None else hosts,
            self.vms if vms is None else vms,
            cpu_threshold=self.cpu_cap,
            ram_threshold=self.ram_cap,
            all_or_nothing=self.all_or_nothing,
        )


def _near_free(total: int, used: int, cap: float) -> list[int]:
    """Demands at the edge of a host's free capacity under ``cap``: just in and just out."""
    free = math.floor(cap * total - used)
    return [d for d in (free, free + 1) if d >= 0]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """0-6 hosts (awake ones partly used), 0-10 VMs, caps and all_or_nothing.

    VM demands are random or at the edge of some host's free capacity, so that the
    caps are tested where an off-by-a-little would show.
    """
    cpu_cap = draw(st.sampled_from([0.5, 0.8, 0.9, 1.0]))
    ram_cap = draw(st.sampled_from([0.7, 0.95, 1.0]))
    hosts = []
    cpu_edges, ram_edges = [0], [0]
    for i in range(draw(st.integers(0, 6))):
        cpu, ram = draw(st.integers(100, 6000)), draw(st.integers(256, 8192))
        awake = draw(st.booleans())
        used = draw(st.integers(0, cpu)) if awake else 0
        ram_used = draw(st.integers(0, ram)) if awake else 0
        model = draw(st.sampled_from(MODELS))
        hosts.append(HostCapacity(f"h{i}", cpu, ram, used, ram_used, awake=awake, power=model))
        cpu_edges += _near_free(cpu, used, cpu_cap)
        ram_edges += _near_free(ram, ram_used, ram_cap)
    cpu_demand = st.one_of(st.integers(0, 3000), st.sampled_from(cpu_edges))
    ram_demand = st.one_of(st.integers(0, 4096), st.sampled_from(ram_edges))
    vms = [
        VmDemand(f"v{j}", draw(cpu_demand), draw(ram_demand))
        for j in range(draw(st.integers(0, 10)))
    ]
    return Scenario(hosts, vms, cpu_cap, ram_cap, draw(st.booleans()))


ALGORITHMS = ["bfd", "pabfd"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(scenario=scenarios())
def test_placement_invariants(algorithm: str, scenario: Scenario) -> None:
    result = scenario.run(algorithm)
    by_id = {h.host_id: h for h in scenario.hosts}
    vm_ids = [v.vm_id for v in scenario.vms]

    # Only existing hosts; every VM either placed once or reported unplaced, never both.
    assert set(result.assignments.values()) <= set(by_id)
    assert len(set(result.unplaced)) == len(result.unplaced)
    assert not set(result.assignments) & set(result.unplaced)
    assert set(result.assignments) | set(result.unplaced) <= set(vm_ids)
    if scenario.all_or_nothing:
        if result.complete:
            assert sorted(result.assignments) == sorted(vm_ids)
        else:
            assert result.assignments == {}
            assert result.wake == ()
    else:
        assert Counter([*result.assignments, *result.unplaced]) == Counter(vm_ids)

    # Only sleeping hosts are woken, each once, and each of them receives a VM; no VM goes
    # to a sleeping host that is not woken.
    targets = set(result.assignments.values())
    assert len(set(result.wake)) == len(result.wake)
    for host_id in result.wake:
        assert not by_id[host_id].awake
        assert host_id in targets
    assert {t for t in targets if not by_id[t].awake} == set(result.wake)

    # Caps: a host that receives VMs stays within them (the demands are whole numbers).
    demand = {v.vm_id: v for v in scenario.vms}
    for host_id in targets:
        h = by_id[host_id]
        placed = [demand[v] for v, t in result.assignments.items() if t == host_id]
        assert h.cpu_used + sum(v.cpu for v in placed) <= scenario.cpu_cap * h.cpu_total + 1e-6
        assert h.ram_used + sum(v.ram for v in placed) <= scenario.ram_cap * h.ram_total + 1e-6


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(scenario=scenarios(), data=st.data())
def test_placement_is_deterministic_and_ignores_vm_order(
    algorithm: str, scenario: Scenario, data: st.DataObject
) -> None:
    first = scenario.run(algorithm)
    assert scenario.run(algorithm) == first
    shuffled = data.draw(st.permutations(scenario.vms))
    assert scenario.run(algorithm, vms=shuffled) == first


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(scenario=scenarios())
def test_placement_is_complete_when_one_awake_host_can_take_everything(
    algorithm: str, scenario: Scenario
) -> None:
    # At most 10 VMs of ≤ 6000 MHz and ≤ 8192 MB: a 10⁶ host holds them all under any cap.
    roomy = HostCapacity("roomy", 1e6, 1e6, awake=True, power=G5)
    result = scenario.run(algorithm, hosts=[*scenario.hosts, roomy])
    assert result.complete
    assert sorted(result.assignments) == sorted(v.vm_id for v in scenario.vms)
    if algorithm == "bfd":
        assert result.wake == ()  # BFD wakes a host only when no awake one fits
