"""The local manager's decision for one host."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fleetwise.core.local_manager import (
    AlgorithmChoice,
    HostObservation,
    LocalManager,
    LocalManagerConfig,
    host_utilisation_history,
)
from fleetwise.core.selection import SELECTION
from fleetwise.core.types import SelectionContext, VmObservation


def vm(name: str, mhz: list[float], ram: float = 1024.0) -> VmObservation:
    return VmObservation(name, ram, 2000.0, np.asarray(mhz, dtype=np.float64))


def test_history_sums_vms_and_hypervisor_aligned_on_the_newest_sample() -> None:
    obs = HostObservation(
        "h", 1000.0, (vm("a", [100, 200, 300]), vm("b", [50])), np.asarray([10.0, 10.0])
    )
    # oldest → newest: a 100/200/300, b only newest 50, hypervisor last two 10s
    assert host_utilisation_history(obs).tolist() == [0.1, 0.21, 0.36]


def test_underload_sends_every_vm() -> None:
    mgr = LocalManager(LocalManagerConfig())  # last-2 mean <= 0.5 is underloaded
    obs = HostObservation("h", 1000.0, (vm("a", [100, 100]), vm("b", [100, 100])))
    decision, state = mgr.decide(obs, {})
    assert decision.reason == "underload" and decision.vm_ids == ("a", "b")
    json.dumps(state)  # persistable


def test_overload_selects_until_the_host_is_relieved() -> None:
    # THR 0.8 on 1000 MHz: 300+300+300 = 0.9. MMT picks the least RAM first ("c", 512 MB):
    # 600 left = 0.6, relieved after one VM.
    config = LocalManagerConfig(
        underload=AlgorithmChoice(name="threshold", params={"threshold": 0.1}),
        selection=AlgorithmChoice(name="mmt"),
    )
    mgr = LocalManager(config)
    obs = HostObservation(
        "h", 1000.0, (vm("a", [300, 300]), vm("b", [300, 300]), vm("c", [300, 300], ram=512))
    )
    decision, _ = mgr.decide(obs, {})
    assert decision.reason == "overload" and decision.vm_ids == ("c",)


def test_overload_selection_respects_the_per_request_cap() -> None:
    config = LocalManagerConfig(
        underload=AlgorithmChoice(name="never"),
        overload=AlgorithmChoice(name="thr", params={"threshold": 0.2}),
        selection=AlgorithmChoice(name="mmt"),
        max_vms_per_request=2,
    )
    obs = HostObservation("h", 1000.0, tuple(vm(f"v{i}", [200, 200]) for i in range(4)))
    decision, _ = LocalManager(config).decide(obs, {})
    assert decision.vm_ids == ("v0", "v1")


def test_stateful_detector_counts_every_interval_even_when_underloaded() -> None:
    config = LocalManagerConfig(
        underload=AlgorithmChoice(name="threshold", params={"threshold": 0.5}),
        overload=AlgorithmChoice(name="otf", params={"otf": 0.5, "threshold": 0.8, "limit": 1}),
    )
    mgr = LocalManager(config)
    obs = HostObservation("h", 1000.0, (vm("a", [100]),))
    state: dict = {}
    for _ in range(3):
        decision, state = mgr.decide(obs, state)
        assert decision.reason == "underload"
    assert json.loads(json.dumps(state))["overload"]  # counters persisted and growing


def test_nothing_to_decide_without_vms() -> None:
    decision, _ = LocalManager(LocalManagerConfig()).decide(HostObservation("h", 1000.0, ()), {})
    assert decision.reason == "none"


def test_migration_time_is_mean_ram_over_bandwidth() -> None:
    mgr = LocalManager(LocalManagerConfig(migration_bandwidth_mb_s=100.0))
    obs = HostObservation("h", 1000.0, (vm("a", [1], ram=1000), vm("b", [1], ram=3000)))
    assert mgr.migration_time_s(obs) == 20.0


def test_bad_configuration_is_rejected_when_it_loads() -> None:
    with pytest.raises(ValidationError, match="unknown overload algorithm 'nope'"):
        LocalManagerConfig(overload=AlgorithmChoice(name="nope"))
    with pytest.raises(ValidationError, match="threshold"):
        LocalManagerConfig(overload=AlgorithmChoice(name="thr", params={"threshold": 5}))


def _plain_history(vms: tuple[VmObservation, ...], hyp: np.ndarray, capacity: float) -> np.ndarray:
    """The definition: each VM's history added in turn, aligned on the newest sample."""
    length = max((v.cpu_history.size for v in vms), default=0)
    if length == 0:
        return np.zeros(0)
    total = np.zeros(length)
    for v in vms:
        if v.cpu_history.size:
            total[length - v.cpu_history.size :] += v.cpu_history
    tail = hyp[-length:]
    total[length - tail.size :] += tail
    out: np.ndarray = total / capacity
    return out


_HISTORIES = st.lists(
    st.lists(st.floats(0, 5000, allow_nan=False), min_size=0, max_size=12), min_size=1, max_size=9
)


@given(histories=_HISTORIES, hyp=st.lists(st.floats(0, 500), max_size=12))
def test_history_is_exactly_the_sum_in_order(
    histories: list[list[float]], hyp: list[float]
) -> None:
    vms = tuple(vm(f"v{i}", h) for i, h in enumerate(histories))
    obs = HostObservation("h", 7000.0, vms, np.asarray(hyp, dtype=np.float64))
    expected = _plain_history(vms, obs.hypervisor_mhz, 7000.0)
    assert host_utilisation_history(obs).tobytes() == expected.tobytes()


@settings(max_examples=60)
@given(histories=_HISTORIES, cap=st.integers(0, 4), seed=st.integers(0, 1000))
def test_selection_what_ifs_use_the_remaining_vms_only(
    histories: list[list[float]], cap: int, seed: int
) -> None:
    # A reference loop building a reduced observation each time, as the definition says.
    config = LocalManagerConfig(
        overload=AlgorithmChoice(name="thr", params={"threshold": 0.5}),
        selection=AlgorithmChoice(name="rs"),
        underload=AlgorithmChoice(name="never"),
        max_vms_per_request=cap,
    )
    manager = LocalManager(config)
    vms = tuple(vm(f"v{i}", h, ram=100.0 * (i % 3 + 1)) for i, h in enumerate(histories))
    obs = HostObservation("h", 4000.0, vms)
    decision, _ = manager.decide(obs, {}, seed=seed)
    if decision.reason != "overload":
        return
    remaining, chosen = list(vms), []
    limit = cap or len(remaining)
    select = SELECTION.build("rs")
    while remaining and len(chosen) < limit:
        index = select(tuple(remaining), SelectionContext(seed=seed + len(chosen)))
        assert index is not None
        chosen.append(remaining.pop(index).vm_id)
        if not remaining:
            break
        history = _plain_history(tuple(remaining), np.zeros(0), 4000.0)
        if not (history.size and history[-1] > 0.5):
            break
    assert decision.vm_ids == tuple(chosen)
