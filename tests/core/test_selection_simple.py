"""Simple VM-selection policies: RS, MMT, MMT-max-CPU and MU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.selection import SELECTION
from fleetwise.core.types import SelectionContext, VmObservation


def vm(name: str, ram: float, cpu: Sequence[float] = (), capacity: float = 1000.0) -> VmObservation:
    return VmObservation(name, ram, capacity, np.asarray(cpu, dtype=np.float64))


def select(
    policy: str, vms: Sequence[VmObservation], seed: int = 0, **params: object
) -> int | None:
    return SELECTION.build(policy, params)(tuple(vms), SelectionContext(seed=seed))


FIVE = [vm(f"vm{i}", 512.0, [100.0 * i]) for i in range(5)]


@pytest.mark.parametrize("policy", ["rs", "mmt", "mmt-max-cpu", "mu"])
def test_no_candidates_selects_nothing(policy: str) -> None:
    assert select(policy, []) is None


@pytest.mark.parametrize("policy", ["rs", "mmt", "mmt-max-cpu", "mu"])
def test_a_single_candidate_is_selected(policy: str) -> None:
    assert select(policy, [vm("only", 870.0, [50.0])]) == 0


# ------------------------------------------------------------------------- RS


@given(st.integers(0, 2**32), st.integers(1, 12))
def test_random_selection_is_reproducible_for_a_seed(seed: int, n: int) -> None:
    vms = [vm(f"vm{i}", 512.0) for i in range(n)]
    first = select("rs", vms, seed=seed)
    assert first is not None
    assert 0 <= first < n
    assert select("rs", vms, seed=seed) == first


def test_random_selection_covers_every_index_across_seeds() -> None:
    picks = [select("rs", FIVE, seed=s) for s in range(500)]
    counts = np.bincount([p for p in picks if p is not None], minlength=5)
    assert counts.sum() == 500
    assert counts.size == 5
    # Uniform: 100 expected per index; every index shows up a fair number of times.
    assert counts.min() >= 60


def test_random_selection_ignores_the_vms_attributes() -> None:
    # Same seed and count, different VMs: the same index.
    other = [vm(f"x{i}", 100.0 * (i + 1), [1.0]) for i in range(5)]
    assert all(select("rs", FIVE, seed=s) == select("rs", other, seed=s) for s in range(20))


# ------------------------------------------------------------------------ MMT


def test_mmt_selects_the_least_ram_and_the_first_on_ties() -> None:
    vms = [vm("a", 1740.0), vm("b", 613.0), vm("c", 870.0), vm("d", 613.0)]
    assert select("mmt", vms) == 1
    assert select("mmt", vms[2:]) == 1  # c (870) vs d (613): d
    assert select("mmt", [vm("a", 870.0), vm("b", 870.0)]) == 0


# ------------------------------------------------------------------ MMT-max-CPU


def test_mmt_max_cpu_prefers_the_busiest_of_the_least_ram_vms() -> None:
    vms = [
        vm("a", 613.0, [100.0, 200.0]),  # last-2 mean 150
        vm("b", 870.0, [900.0, 900.0]),  # busiest, but more RAM: not a candidate
        vm("c", 613.0, [500.0, 100.0, 100.0]),  # last-2 mean 100 (the 500 is older)
        vm("d", 613.0, [0.0, 300.0]),  # last-2 mean 150: ties with a, a comes first
    ]
    assert select("mmt-max-cpu", vms) == 0
    # last_n = 3: a 150 (two values), c (500 + 100 + 100)/3 = 233.3, d 150 -> c.
    assert select("mmt-max-cpu", vms, last_n=3) == 2
    # last_n = 1: a 200, c 100, d 300 -> d.
    assert select("mmt-max-cpu", vms, last_n=1) == 3


def test_mmt_max_cpu_without_cpu_data_takes_the_first_least_ram_vm() -> None:
    vms = [vm("a", 870.0, [10.0]), vm("b", 613.0), vm("c", 613.0)]
    assert select("mmt-max-cpu", vms) == 1


def test_mmt_max_cpu_selects_a_least_ram_vm_with_idle_cpu() -> None:
    vms = [vm("a", 870.0, [900.0]), vm("b", 613.0, [0.0, 0.0])]
    assert select("mmt-max-cpu", vms) == 1


# ------------------------------------------------------------------------- MU

MIXED = [
    vm("big", 870.0, [900.0, 500.0], capacity=2500.0),  # 500/2500 = 0.20
    vm("small", 870.0, [0.0, 200.0], capacity=500.0),  # 200/500 = 0.40
    vm("mid", 870.0, [300.0], capacity=1000.0),  # 300/1000 = 0.30
]


def test_mu_relative_compares_current_use_over_capacity() -> None:
    assert select("mu", MIXED) == 0  # 0.20 is the lowest share
    assert select("mu", MIXED, relative=True) == 0


def test_mu_absolute_compares_current_use() -> None:
    assert select("mu", MIXED, relative=False) == 1  # 200 MHz is the lowest use


def test_mu_uses_only_the_current_value_and_the_first_on_ties() -> None:
    vms = [vm("a", 870.0, [0.0, 300.0]), vm("b", 870.0, [900.0, 100.0]), vm("c", 870.0, [100.0])]
    assert select("mu", vms) == 1
    assert select("mu", vms, relative=False) == 1
