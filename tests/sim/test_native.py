"""The native model: the live system's managers on a simulated data centre."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwise.core.lifecycle import ActionState
from fleetwise.errors import ParameterError, UnknownNameError
from fleetwise.sim.native.meter import ASLEEP
from fleetwise.sim.native.run import NativeRun
from fleetwise.sim.native.runner import CONFIGURED, scenario_for, simulate_native
from fleetwise.sim.native.scenario import Scenario, default_scenario, load_scenario
from fleetwise.sim.policies import parse_policy
from fleetwise.traces import load_bundled_day
from fleetwise.traces.loader import TraceSet


def _traces(rows: list[list[int]]) -> TraceSet:
    cpu = np.asarray(rows, dtype=np.uint8)
    return TraceSet("t", tuple(f"vm{i:02d}" for i in range(len(rows))), cpu)


def _scenario(hosts: int = 6, **overrides: Any) -> Scenario:
    """Small hosts (4 × 1000 MHz, 4 GB) and one VM size (1000 MHz, 512 MB)."""
    raw: dict[str, Any] = {
        "name": "small",
        "datacenter": {
            "hosts": [
                {
                    "name": "h",
                    "count": hosts,
                    "cores": 4,
                    "core_mhz": 1000,
                    "ram_mb": 4096,
                    "power_model": {"idle_w": 100, "peak_w": 200, "sleep_w": 5},
                    "wake_latency_s": 30,
                }
            ],
            "vms": {"types": [{"name": "v", "mhz": 1000, "ram_mb": 512}]},
            "startup": "spread",
            "migration_bandwidth_mb_s": 100,
        },
        "controller": {"plan_round_spacing_s": 60},
        "agent": {"history_length": 10},
    }
    raw.update(overrides)
    return Scenario.model_validate(raw)


def test_light_load_is_consolidated_and_empty_hosts_sleep() -> None:
    # Twelve VMs spread over six hosts, busy for two samples, then at 5 %: every host
    # becomes underloaded and the global manager packs the VMs onto few hosts.
    traces = _traces([[60, 60] + [5] * 10 for _ in range(12)])
    run = NativeRun(traces, _scenario())
    run.run()
    assert (run.vm_host >= 0).all() and (run.moving_to < 0).all()
    awake_hosts = set(run.vm_host.tolist())
    assert len(awake_hosts) <= 2
    assert all(run.power[h] == ASLEEP for h in range(6) if h not in awake_hosts)
    assert run.tally.shutdowns >= 4
    assert run.tally.migrations >= 2 * run.tally.shutdowns  # two VMs left each sleeping host
    assert run.plan is None or run.plan.outcome is None


def test_consolidation_saves_energy_against_no_consolidation() -> None:
    traces = _traces([[70, 70] + [10 + (i * 7 + k) % 20 for k in range(10)] for i in range(12)])
    scenario = _scenario(8)
    packed = simulate_native(traces, "thr-mmt-0.8", scenario=scenario)
    static = simulate_native(traces, "dvfs", scenario=scenario)
    assert static.migrations == 0 and static.aitf == 0
    assert packed.migrations > 0 and packed.host_shutdowns > 0
    assert packed.energy_kwh < static.energy_kwh
    assert packed.aitf > static.aitf


def test_npa_is_peak_power_all_day() -> None:
    result = simulate_native(_traces([[10] * 4]), "npa", scenario=_scenario(2))
    assert result.energy_kwh == pytest.approx(2 * 200 * 4 * 300 / 3.6e6)


def test_a_policy_replaces_only_the_detector_and_the_selection() -> None:
    base = _scenario(
        local_manager={"underload": {"name": "threshold", "params": {"threshold": 0.3}}}
    )
    changed = scenario_for(parse_policy("mad-mu-2.5"), base)
    assert changed.local_manager.overload.name == "mad"
    assert changed.local_manager.overload.params == {"safety": 2.5}
    assert changed.local_manager.selection.name == "mu"
    assert changed.local_manager.underload == base.local_manager.underload
    result = simulate_native(_traces([[20] * 6] * 3), scenario=base)
    assert result.policy == CONFIGURED and result.profile == "small"


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ("foo-mmt-1", UnknownNameError),
        ("thr-mmt-3", ParameterError),
        ("mhod-xyz-0.2", UnknownNameError),
    ],
)
def test_bad_policy_is_rejected_before_the_run(policy: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        simulate_native(_traces([[10] * 4]), policy, scenario=_scenario(2))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"datacenter": {"hosts": []}}, "datacenter.hosts"),
        ({"local_manager": {"overload": {"name": "thr", "params": {"threshold": 7}}}}, "threshold"),
        ({"global_manager": {"placement": {"name": "worst-fit"}}}, "unknown placement"),
        ({"agent": {"history_length": 1}}, "agent.history_length"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_bad_scenario_files_fail_in_one_line(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    raw = _scenario().model_dump(mode="json")
    for key, value in change.items():
        raw[key] = {**raw[key], **value} if isinstance(raw.get(key), dict) else value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ParameterError, match=message) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)


def test_vm_sizes_by_block_cycle_and_per_trace() -> None:
    types = [{"name": "a", "mhz": 1000, "ram_mb": 100}, {"name": "b", "mhz": 2000, "ram_mb": 200}]
    traces = _traces([[5] * 2] * 4)
    for assign, per_trace, expected in (
        ("blocks", {}, [1000, 1000, 2000, 2000]),
        ("cycle", {}, [1000, 2000, 1000, 2000]),
        ("cycle", {"vm00": "b"}, [2000, 2000, 1000, 2000]),
    ):
        scenario = _scenario()
        dc = scenario.datacenter.model_dump()
        dc["vms"] = {"types": types, "assign": assign, "per_trace": per_trace}
        run = NativeRun(
            traces,
            scenario.model_copy(
                update={"datacenter": type(scenario.datacenter).model_validate(dc)}
            ),
        )
        assert run.dc.vm_mhz.tolist() == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(2, 14).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 99), min_size=8, max_size=8), min_size=n, max_size=n
        )
    ),
    policy=st.sampled_from(
        ["thr-mmt-0.8", "mad-mu-2.5", "lr-mmt-1.2", "otf-rs-0.3", "mhod-mc-0.3"]
    ),
    startup=st.sampled_from(["spread", "packed"]),
    caps=st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 2)),
)
def test_no_vm_is_lost_or_doubled_and_ram_is_never_exceeded(
    rows: list[list[int]], policy: str, startup: str, caps: tuple[int, int, int]
) -> None:
    scenario = _scenario(
        5,
        controller={
            "plan_round_spacing_s": 100,
            "migration_caps": dict(
                zip(("total", "per_source", "per_destination"), caps, strict=True)
            ),
        },
    )
    dc = scenario.datacenter.model_copy(update={"startup": startup})
    scenario = scenario_for(parse_policy(policy), scenario.model_copy(update={"datacenter": dc}))
    run = NativeRun(_traces(rows), scenario)
    checked: list[int] = []

    def check(done: int, total: int) -> None:
        # A VM is on exactly one host; incoming copies count against the destination's RAM.
        assert ((run.vm_host >= 0) & (run.vm_host < 5)).all(), "a VM lost its host"
        booked = np.bincount(run.vm_host, run.dc.vm_ram, minlength=5)
        moving = run.moving_to >= 0
        booked += np.bincount(run.moving_to[moving], run.dc.vm_ram[moving], minlength=5)
        assert (booked <= run.dc.host_ram).all(), "a host's RAM is over-booked"
        for h in np.flatnonzero(run.power == ASLEEP):
            assert not (run.vm_host == h).any(), "a sleeping host still has VMs"
        if run.plan is not None:
            running = sum(s is ActionState.ONGOING for s in run.plan.states.values())
            assert running >= len(run._running)
        assert len(run._running) <= caps[0]
        checked.append(done)

    run.run(check)
    assert checked == list(range(1, 9))
    assert (run.moving_to < 0).all() or run.plan is not None


def test_bundled_scenario_saves_at_least_40_percent_on_a_bundled_day() -> None:
    traces = load_bundled_day("20110303")
    consolidated = simulate_native(traces, "thr-mmt-0.8")
    baseline = simulate_native(traces, "dvfs")
    assert consolidated.hosts == default_scenario().host_count == 48
    assert consolidated.energy_kwh <= 0.6 * baseline.energy_kwh
    assert consolidated.migrations > 100 and consolidated.host_shutdowns > 10
    assert 0 <= consolidated.slatah <= 1 and 0 < consolidated.aitf < 1


def test_cli_runs_a_scenario_file_and_reports_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "rack.yaml"
    path.write_text(yaml.safe_dump(_scenario(3).model_dump(mode="json")), encoding="utf-8")
    traces = tmp_path / "traces"
    traces.mkdir()
    for i in range(4):
        (traces / f"vm{i}").write_text("".join(f"{10 + i}\n" for _ in range(6)))
    out = tmp_path / "out.json"
    run = [sys.executable, "-m", "fleetwise", "simulate", "--model", "native"]
    proc = subprocess.run(
        [*run, "--scenario", str(path), "--traces", str(traces), "--json", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"model": "native"' in out.read_text() and "configured" in proc.stdout
    path.write_text("datacenter: {hosts: []}\n", encoding="utf-8")
    proc = subprocess.run(
        [*run, "--scenario", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: scenario")
