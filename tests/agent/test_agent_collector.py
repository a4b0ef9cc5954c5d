"""Collector arithmetic against the simulated fleet, on a virtual clock."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fleetwise.agent.collector import Collector
from fleetwise.agent.history import UsageHistory
from fleetwise.agent.meter import Readings, interval_use
from fleetwise.agent.persist import JsonFile
from fleetwise.drivers.hypervisor.base import HostCpuTimes
from fleetwise.drivers.hypervisor.simulated import SimulatedFleet
from fleetwise.service.clock import VirtualClock
from tests.helpers.agent import STEP, VM1, VM2, trace_vm, two_host_fleet


def collector(fleet: SimulatedFleet, host: str, path: Path, clock: VirtualClock) -> Collector:
    return Collector(
        fleet.hypervisor(host),
        clock,
        JsonFile(path / f"{host}.json", UsageHistory),
        history_length=3,
        usable_fraction=1.0,
        overload_threshold=0.8,
    )


def test_vm_mhz_counts_every_vcpu_and_hypervisor_is_host_minus_vms(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock, overhead_cores=0.5)
    fleet.add_vm("a", trace_vm(VM1, [0.25, 0.75], vcpus=2))
    fleet.add_vm("a", trace_vm(VM2, [1.0], vcpus=1))
    col = collector(fleet, "a", tmp_path, clock)

    baseline = col.collect()
    assert baseline.batch is None and baseline.use is None

    clock.advance(STEP)
    first = col.collect()
    assert first.use is not None and first.batch is not None
    # 0.25 of 2 vCPUs of 2000 MHz is 1000 MHz (a one-vCPU reading would say 500).
    assert first.use.vm_mhz == pytest.approx({VM1: 1000.0, VM2: 2000.0})
    # Host: VMs (3000) plus 0.5 core of hypervisor overhead (1000).
    assert first.use.host_mhz == pytest.approx(4000.0)
    assert first.use.hypervisor_mhz == pytest.approx(1000.0)
    assert first.batch.host_cpu_mhz == pytest.approx(4000.0)

    clock.advance(STEP)
    second = col.collect()
    assert second.use is not None
    assert second.use.vm_mhz[VM1] == pytest.approx(3000.0)
    assert col.history.vms[VM1] == pytest.approx([1000.0, 3000.0])
    assert col.history.hypervisor == pytest.approx([1000.0, 1000.0])


def test_history_is_bounded(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.1, 0.2, 0.3, 0.4, 0.5]))
    col = collector(fleet, "a", tmp_path, clock)
    col.collect()
    for _ in range(5):
        clock.advance(STEP)
        col.collect()
    assert col.history.vms[VM1] == pytest.approx([600.0, 800.0, 1000.0])
    assert len(col.history.hypervisor) == 3


def test_counter_reset_counts_the_cpu_used_since_the_vm_came_back(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock, bandwidth_mb_s=100.0)  # 1000 MB: 10 s per move
    fleet.add_vm("a", trace_vm(VM1, [0.5, 0.75], vcpus=2))
    col = collector(fleet, "a", tmp_path, clock)
    clock.advance(290.0)
    col.collect()  # baseline: counter at 290 s × 1 core = 290 cpu-s
    # Leave for b and come back: the counter restarts when the VM arrives (t = 310).
    fleet.start_migration(VM1, "b")
    clock.advance(10.0)
    fleet.start_migration(VM1, "a")
    clock.advance(10.0)
    assert fleet.locate(VM1) == "a"
    clock.advance(40.0)  # t = 350: 40 s back on a at 1.5 cores = 60 cpu-s
    result = col.collect()
    assert result.use is not None
    # 60 cpu-s over the 60 s interval = 1 core = 2000 MHz; not negative, not the raw jump.
    assert result.use.vm_mhz[VM1] == pytest.approx(2000.0)


def test_vms_that_arrive_count_from_arrival_and_those_that_leave_are_forgotten(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    fleet.add_vm("b", trace_vm(VM2, [1.0]))
    col_a, col_b = collector(fleet, "a", tmp_path, clock), collector(fleet, "b", tmp_path, clock)
    col_a.collect()
    col_b.collect()
    clock.advance(50.0)
    col_b.collect()
    assert VM2 in col_b.history.vms
    clock.advance(50.0)
    fleet.start_migration(VM2, "a")  # arrives at t = 110
    clock.advance(200.0)  # t = 300
    on_a, on_b = col_a.collect(), col_b.collect()
    assert on_a.use is not None and on_b.use is not None
    # 190 s of one core on a, averaged over the 300 s interval.
    assert on_a.use.vm_mhz == pytest.approx({VM2: 2000.0 * 190 / 300})
    assert on_b.use.vm_mhz == {}
    assert VM2 not in col_b.history.vms
    assert on_b.batch is not None and on_b.batch.vms == []


def test_a_counter_too_large_for_the_interval_gives_no_value() -> None:
    before = Readings(0.0, {}, HostCpuTimes(0, 0))
    after = Readings(
        60.0, {VM1: 1000 * 10**9, VM2: 30 * 10**9}, HostCpuTimes(90 * 10**9, 240 * 10**9)
    )
    use = interval_use(before, after, {VM1: 1, VM2: 1}, cores=4, core_mhz=1000.0)
    assert use is not None
    assert use.vm_mhz == pytest.approx({VM2: 500.0})  # VM1 cannot have used 1000 s in 60 s
    assert use.host_mhz == pytest.approx(1500.0)
    assert use.hypervisor_mhz == pytest.approx(1000.0)


def test_host_counter_reset_gives_no_hypervisor_share() -> None:
    before = Readings(0.0, {VM1: 0}, HostCpuTimes(500 * 10**9, 900 * 10**9))
    after = Readings(60.0, {VM1: 30 * 10**9}, HostCpuTimes(10 * 10**9, 20 * 10**9))
    use = interval_use(before, after, {VM1: 1}, cores=4, core_mhz=1000.0)
    assert use is not None
    assert use.host_mhz == pytest.approx(500.0)
    assert use.hypervisor_mhz == 0.0


def test_overload_state_is_sent_and_logged_only_when_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock)
    # 4 cores × 2000 MHz; the overload limit is 0.8 × 8000 = 6400 MHz.
    fleet.add_vm("a", trace_vm(VM1, [0.5, 1.0, 1.0, 0.5], vcpus=4))
    col = collector(fleet, "a", tmp_path, clock)
    col.collect()
    flags = []
    with caplog.at_level(logging.INFO, logger="fleetwise.agent.collector"):
        for _ in range(4):
            clock.advance(STEP)
            batch = col.collect().batch
            assert batch is not None
            flags.append(batch.overloaded)
    assert flags == [False, True, True, False]
    messages = [r.getMessage().split(":")[0] for r in caplog.records]
    assert messages == ["host not overloaded", "host overloaded", "host not overloaded"]


def test_migrating_vm_keeps_being_measured_on_its_source(tmp_path: Path) -> None:
    clock = VirtualClock()
    fleet = two_host_fleet(clock, bandwidth_mb_s=1.0)  # 1000 s to move 1000 MB
    fleet.add_vm("a", trace_vm(VM1, [0.5]))
    col = collector(fleet, "a", tmp_path, clock)
    col.collect()
    fleet.start_migration(VM1, "b")  # under way during the whole next interval
    clock.advance(STEP)
    result = col.collect()
    assert result.use is not None
    assert result.use.vm_mhz == pytest.approx({VM1: 1000.0})
    assert [vm.state.value for vm in result.vms] == ["migrating"]
