"""The native model: fleetwise's own managers on a simulated fleet."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwise.errors import ParameterError, UnknownNameError
from fleetwise.sim.native.config import NativeConfig, native_config_for
from fleetwise.sim.native.runner import ASLEEP, NativeRun, simulate_native
from fleetwise.traces.loader import TraceSet


def _traces(rows: list[list[int]]) -> TraceSet:
    cpu = np.asarray(rows, dtype=np.uint8)
    return TraceSet("t", tuple(f"vm{i:02d}" for i in range(len(rows))), cpu)


def test_light_load_is_consolidated_and_empty_hosts_sleep() -> None:
    # Eight VMs at 60 % for two samples, then 5 %: start-up BFD (by the first sample,
    # under the 80 % CPU cap) needs several hosts; once the load drops every host is
    # underloaded and the global manager packs the VMs onto one host.
    traces = _traces([[60, 60] + [5] * 8 for _ in range(8)])
    config = NativeConfig(host_ram_mb=16384)
    run = NativeRun(traces, native_config_for("thr-mmt-0.8", config), hosts=6)
    run.run()
    assert (run.vm_host >= 0).all() and (run.migrating_to < 0).all()
    awake_hosts = set(run.vm_host.tolist())
    assert len(awake_hosts) == 1  # 8 × small demand fits on one host under the caps
    asleep = [h for h in range(6) if h not in awake_hosts]
    assert all(run.power_state[h] == ASLEEP for h in asleep)
    assert run.c.migrations >= 1


def test_consolidation_saves_energy_against_no_consolidation() -> None:
    traces = _traces([[70, 70] + [10 + (i * 7 + k) % 20 for k in range(10)] for i in range(12)])
    config = NativeConfig(host_ram_mb=16384)
    packed = simulate_native(traces, "thr-mmt-0.8", config=config, hosts=8)
    static = simulate_native(traces, "dvfs", config=config, hosts=8)
    assert static.migrations == 0
    assert packed.migrations > 0
    assert packed.energy_kwh < static.energy_kwh
    assert packed.aitf > static.aitf


def test_npa_is_peak_power_all_day() -> None:
    result = simulate_native(_traces([[10] * 4]), "npa", hosts=2)
    assert result.energy_kwh == pytest.approx((117 + 135) * 4 * 300 / 3.6e6)


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ("foo-mmt-1", UnknownNameError),
        ("thr-mmt-3", ParameterError),
        ("mhod-xyz-0.2", UnknownNameError),
    ],
)
def test_bad_native_policy_is_rejected(policy: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        native_config_for(policy)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(2, 10).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 99), min_size=8, max_size=8), min_size=n, max_size=n
        )
    ),
    policy=st.sampled_from(
        ["thr-mmt-0.8", "mad-mu-2.5", "lr-mmt-1.2", "otf-rs-0.3", "mhod-mmt-0.3"]
    ),
)
def test_no_vm_is_lost_and_metrics_stay_in_range(rows: list[list[int]], policy: str) -> None:
    traces = _traces(rows)
    config = native_config_for(policy, NativeConfig(host_ram_mb=16384))
    run = NativeRun(traces, config, hosts=6)
    run.run()
    assert ((run.vm_host >= 0) & (run.vm_host < 6)).all(), "a VM lost its host"
    assert (run.migrating_to < 0).all(), "a migration never completed"
    for h in range(6):
        if run.power_state[h] == ASLEEP:
            assert not (run.vm_host == h).any(), "a sleeping host still has VMs"
    result = simulate_native(traces, policy, config=NativeConfig(host_ram_mb=16384), hosts=6)
    for ratio in (result.slatah, result.pdm, result.sla_overall, result.aitf):
        assert 0.0 <= ratio <= 1.0
    assert result.energy_kwh > 0
