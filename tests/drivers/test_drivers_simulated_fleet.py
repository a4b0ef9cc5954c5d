"""The simulated fleet: trace-driven CPU time, migrations, failures, power."""

from __future__ import annotations

import itertools

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.clock import ManualClock
from fleetwise.drivers.hypervisor.base import (
    MigrationProgress,
    MigrationTarget,
    VmState,
)
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.simulated import (
    SimulatedFleet,
    SimulatedHost,
    SimulatedHypervisor,
    SimulatedVm,
)
from fleetwise.drivers.power.base import PowerState
from fleetwise.drivers.power.simulated import SimulatedPowerDriver
from fleetwise.errors import DriverError, ParameterError

VM1 = "00000000-0000-4000-8000-000000000001"
VM2 = "00000000-0000-4000-8000-000000000002"
STEP = 300.0


def make_fleet(
    clock: ManualClock, *, bandwidth_mb_s: float = 100.0, **kwargs: object
) -> tuple[SimulatedFleet, SimulatedHypervisor, SimulatedHypervisor]:
    fleet = SimulatedFleet(clock, bandwidth_mb_s=bandwidth_mb_s, **kwargs)  # type: ignore[arg-type]
    a = fleet.add_host(SimulatedHost("a", cores=4, core_mhz=2000.0, ram_mb=4096))
    b = fleet.add_host(SimulatedHost("b", cores=4, core_mhz=2000.0, ram_mb=4096))
    return fleet, a, b


def vm(uuid: str, fractions: list[float], *, vcpus: int = 2, ram_mb: int = 1000) -> SimulatedVm:
    return SimulatedVm(uuid, f"vm-{uuid[-1]}", vcpus, ram_mb, CpuTrace.of(fractions, STEP))


def test_cpu_time_follows_the_trace_and_counts_vcpus() -> None:
    clock = ManualClock()
    fleet, a, _ = make_fleet(clock)
    fleet.add_vm("a", vm(VM1, [0.25, 0.75], vcpus=2))
    readings = []
    for _ in range(3):
        readings.append(a.vm_cpu_time_ns(VM1))
        clock.advance(STEP)
    readings.append(a.vm_cpu_time_ns(VM1))
    deltas = [(y - x) / 1e9 for x, y in itertools.pairwise(readings)]
    # 0.25 × 2 vCPUs × 300 s, then 0.75 × 2 × 300, then the trace repeats.
    assert deltas == pytest.approx([150.0, 450.0, 150.0])
    mhz = deltas[1] / STEP * a.host_info().core_mhz
    assert mhz == pytest.approx(3000.0)


def test_host_cpu_times_add_vms_and_overhead() -> None:
    clock = ManualClock()
    fleet = SimulatedFleet(clock)
    host = fleet.add_host(SimulatedHost("h", 2, 1000.0, 2048, overhead_cores=0.1))
    fleet.add_vm("h", vm(VM1, [0.5], vcpus=1, ram_mb=512))
    fleet.add_vm("h", vm(VM2, [1.0], vcpus=1, ram_mb=512))
    before = host.host_cpu_times()
    clock.advance(100.0)
    after = host.host_cpu_times()
    assert (after.total_ns - before.total_ns) / 1e9 == pytest.approx(200.0)
    assert (after.busy_ns - before.busy_ns) / 1e9 == pytest.approx(50.0 + 100.0 + 10.0)
    assert after.utilisation_since(before) == pytest.approx(0.8)


def test_migration_moves_the_vm_exactly_once() -> None:
    clock = ManualClock()
    fleet, a, b = make_fleet(clock, bandwidth_mb_s=100.0)
    fleet.add_vm("a", vm(VM1, [0.5], ram_mb=1000))
    clock.advance(STEP)
    busy_before = a.host_cpu_times().busy_ns
    reports: list[MigrationProgress] = []
    seen_states: list[VmState] = []

    def on_progress(p: MigrationProgress) -> None:
        reports.append(p)
        seen_states.append({v.uuid: v.state for v in a.list_vms()}[VM1])
        assert not b.has_vm(VM1)

    result = a.migrate(VM1, MigrationTarget("b"), progress=on_progress, timeout_s=60)

    assert result.outcome is MigrationOutcome.SUCCEEDED
    assert result.duration_s == pytest.approx(10.0)  # 1000 MB at 100 MB/s
    assert clock.now() == pytest.approx(STEP + 10.0)
    assert reports and set(seen_states) == {VmState.MIGRATING}
    fractions = [p.fraction or 0.0 for p in reports]
    assert fractions == sorted(fractions) and fractions[-1] > 0.8
    assert not a.has_vm(VM1) and b.has_vm(VM1)
    assert [v.uuid for v in b.list_vms()] == [VM1]
    assert a.list_vms() == []
    history = fleet.migration_history()
    assert [(r.source, r.destination, r.outcome) for r in history] == [
        ("a", "b", MigrationOutcome.SUCCEEDED)
    ]
    # The VM ran on the source during the migration; its counter restarts on b.
    assert (a.host_cpu_times().busy_ns - busy_before) / 1e9 == pytest.approx(10.0)
    assert b.vm_cpu_time_ns(VM1) == 0
    clock.advance(10.0)
    assert b.vm_cpu_time_ns(VM1) / 1e9 == pytest.approx(10.0)


def test_injected_failures_keep_the_vm_on_the_source() -> None:
    clock = ManualClock()
    fleet, a, b = make_fleet(clock)
    fleet.add_vm("a", vm(VM1, [0.5]))
    fleet.fail_next_migrations(VM1, 2, message="link down", at_fraction=0.25)
    outcomes = [a.migrate(VM1, MigrationTarget("b"), timeout_s=60) for _ in range(2)]
    assert [r.outcome for r in outcomes] == [MigrationOutcome.FAILED] * 2
    assert all(r.message == "link down" for r in outcomes)
    assert outcomes[0].duration_s == pytest.approx(2.5)
    assert fleet.locate(VM1) == "a" and a.has_vm(VM1) and not b.has_vm(VM1)
    third = a.migrate(VM1, MigrationTarget("b"), timeout_s=60)
    assert third.succeeded
    assert fleet.locate(VM1) == "b"


def test_timeout_aborts_and_the_vm_stays() -> None:
    clock = ManualClock()
    fleet, a, b = make_fleet(clock, bandwidth_mb_s=10.0)  # 100 s migration
    fleet.add_vm("a", vm(VM1, [0.5]))
    result = a.migrate(VM1, MigrationTarget("b"), timeout_s=30)
    assert result.outcome is MigrationOutcome.TIMED_OUT
    assert result.duration_s == pytest.approx(30.0)
    clock.advance(200.0)
    assert fleet.locate(VM1) == "a" and not b.has_vm(VM1)
    assert {v.uuid: v.state for v in a.list_vms()}[VM1] is VmState.RUNNING


def test_migration_needs_free_ram_on_the_destination() -> None:
    clock = ManualClock()
    fleet, a, _ = make_fleet(clock)
    fleet.add_vm("a", vm(VM1, [0.1], ram_mb=1000))
    fleet.add_vm("b", vm(VM2, [0.1], ram_mb=3500))
    result = a.migrate(VM1, MigrationTarget("b"))
    assert result.outcome is MigrationOutcome.FAILED
    assert "RAM" in result.message
    assert fleet.locate(VM1) == "a"


def test_concurrent_migration_of_same_vm_is_refused() -> None:
    clock = ManualClock()
    fleet, _, _ = make_fleet(clock)
    fleet.add_host(SimulatedHost("c", 4, 2000.0, 4096))
    fleet.add_vm("a", vm(VM1, [0.1]))
    fleet.start_migration(VM1, "b")
    with pytest.raises(DriverError, match="already migrating"):
        fleet.start_migration(VM1, "c")


def test_cpu_cap_limits_cpu_time_from_when_it_is_set() -> None:
    clock = ManualClock()
    fleet, a, _ = make_fleet(clock)
    fleet.add_vm("a", vm(VM1, [1.0], vcpus=2))
    clock.advance(100.0)
    a.set_cpu_tuning(VM1, quota_us=50_000, period_us=100_000, shares=512)
    clock.advance(100.0)
    assert a.vm_cpu_time_ns(VM1) / 1e9 == pytest.approx(200.0 + 50.0)
    tuning = a.cpu_tuning(VM1)
    assert (tuning.shares, tuning.quota_us, tuning.period_us) == (512, 50_000, 100_000)
    a.set_cpu_tuning(VM1, quota_us=-1)
    assert a.cpu_tuning(VM1).shares == 512  # untouched fields are kept
    clock.advance(100.0)
    assert a.vm_cpu_time_ns(VM1) / 1e9 == pytest.approx(250.0 + 200.0)


def test_unknown_vm_and_host_are_driver_errors() -> None:
    clock = ManualClock()
    fleet, a, _ = make_fleet(clock)
    with pytest.raises(DriverError):
        a.vm_cpu_time_ns(VM1)
    with pytest.raises(DriverError):
        fleet.hypervisor("nowhere")
    fleet.add_vm("b", vm(VM1, [0.1]))
    with pytest.raises(DriverError, match="no VM"):
        a.vm_cpu_time_ns(VM1)  # it exists, but on another host
    with pytest.raises(ParameterError):
        fleet.add_vm("a", vm(VM1, [0.1]))


def test_sleeping_hosts_are_unreachable() -> None:
    clock = ManualClock()
    power = SimulatedPowerDriver(
        clock, {"a": PowerState.ON, "b": PowerState.OFF}, wake_latency_s=30.0
    )
    fleet, a, b = make_fleet(clock, power_status=power.status)
    fleet.add_vm("a", vm(VM1, [0.1]))
    with pytest.raises(DriverError, match="not reachable"):
        b.list_vms()
    refused = a.migrate(VM1, MigrationTarget("b"))
    assert refused.outcome is MigrationOutcome.FAILED and "not reachable" in refused.message
    power.wake("b")
    clock.advance(30.0)
    assert b.list_vms() == []
    assert a.migrate(VM1, MigrationTarget("b")).succeeded


def test_closed_view_refuses_calls() -> None:
    fleet, a, _ = make_fleet(ManualClock())
    a.close()
    with pytest.raises(DriverError, match="closed"):
        a.list_vms()
    assert fleet.hypervisor("a").list_vms() == []
