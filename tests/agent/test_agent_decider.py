"""What the local manager's shell hands to the core, and what it keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetwise.agent.collector import Collection
from fleetwise.agent.decider import DeciderState, LocalDecider
from fleetwise.agent.history import UsageHistory
from fleetwise.agent.persist import JsonFile
from fleetwise.core.local_manager import AlgorithmChoice, LocalManager, LocalManagerConfig
from fleetwise.drivers.hypervisor.base import HostInfo, VmInfo, VmState
from tests.helpers.agent import VM1, VM2, VM3

HOST = HostInfo("a", cores=4, core_mhz=2000.0, ram_mb=8192, uuid=None)


def collection(*vms: VmInfo) -> Collection:
    return Collection(datetime(2024, 1, 1, tzinfo=UTC), HOST, vms, None, None)


def decider(tmp_path: Path, config: LocalManagerConfig | None = None) -> LocalDecider:
    return LocalDecider(
        "a",
        config or LocalManagerConfig.model_validate({"migration_bandwidth_mb_s": 100.0}),
        JsonFile(tmp_path / "detectors.json", DeciderState),
        usable_fraction=0.5,
    )


def test_the_observation_counts_vcpus_and_leaves_out_vms_on_their_way_out(
    tmp_path: Path,
) -> None:
    history = UsageHistory(
        vms={VM1: [100.0, 200.0], VM2: [50.0], VM3: [10.0]}, hypervisor=[5.0, 6.0]
    )
    seen = collection(
        VmInfo(VM1, "one", VmState.RUNNING, vcpus=2, ram_mb=1024),
        VmInfo(VM2, "two", VmState.MIGRATING, vcpus=1, ram_mb=512),
        VmInfo(VM3, "three", VmState.RUNNING, vcpus=1, ram_mb=512),
    )
    obs = decider(tmp_path).observe(seen, history, leaving={VM3})
    assert obs.capacity_mhz == 4000.0  # half of 4 × 2000 MHz is usable
    [vm] = obs.vms
    assert vm.vm_id == VM1 and vm.capacity == 4000.0 and vm.ram_mb == 1024.0
    assert list(vm.cpu_history) == [100.0, 200.0]
    assert list(obs.hypervisor_mhz) == [5.0, 6.0]


def test_the_migration_time_follows_the_vms_of_each_call(tmp_path: Path) -> None:
    shell = decider(tmp_path)
    history = UsageHistory(vms={VM1: [100.0], VM2: [100.0]}, hypervisor=[0.0])
    small = collection(VmInfo(VM1, "one", VmState.RUNNING, 1, 1000))
    both = collection(*small.vms, VmInfo(VM2, "two", VmState.RUNNING, 1, 3000))
    manager = LocalManager(LocalManagerConfig.model_validate({"migration_bandwidth_mb_s": 100.0}))
    assert manager.migration_time_s(shell.observe(small, history, ())) == pytest.approx(10.0)
    assert manager.migration_time_s(shell.observe(both, history, ())) == pytest.approx(20.0)


def test_detector_state_is_saved_after_every_decision(tmp_path: Path) -> None:
    config = LocalManagerConfig.model_validate(
        {"overload": AlgorithmChoice(name="otf", params={"otf": 0.5, "limit": 1})}
    )
    history = UsageHistory(vms={VM1: [3600.0]}, hypervisor=[0.0])
    seen = collection(VmInfo(VM1, "one", VmState.RUNNING, 4, 1000))
    first = decider(tmp_path, config)
    assert first.decide(seen, history).reason == "overload"  # 3600 / 4000 >= 0.8
    first.decide(seen, history)
    again = decider(tmp_path, config)
    assert again.state.detectors["overload"] == {"total": 2, "overloaded": 2}
    assert again.state.decisions == 2


def test_unusable_saved_state_is_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = LocalManagerConfig.model_validate({"overload": {"name": "otf"}})
    JsonFile(tmp_path / "detectors.json", DeciderState).save(
        DeciderState(detectors={"overload": {"total": 1, "overloaded": 5}})
    )
    shell = decider(tmp_path, config)
    history = UsageHistory(vms={VM1: [100.0]}, hypervisor=[0.0])
    shell.decide(collection(VmInfo(VM1, "one", VmState.RUNNING, 1, 1000)), history)
    assert shell.state.detectors["overload"] == {"total": 1, "overloaded": 0}
    assert "starting it afresh" in caplog.text
