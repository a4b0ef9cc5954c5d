"""The shared simulated fleet: one SQLite file, several processes, one consistent fleet."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fleetwise.agent.sim_fleet import VM_TYPES, FleetPlan, create_fleet
from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import MigrationTarget, VmState
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.shared_fleet import FleetHostSpec, FleetVmSpec, SharedFleet
from fleetwise.drivers.power.base import PowerState
from fleetwise.errors import DriverError, InputError, ParameterError
from fleetwise.traces import load_bundled_day
from tests.helpers.fleet_worker import Worker

FROZEN = 1e-9  # speed-up at which real time does not move simulated time noticeably
HOSTS = ["h0", "h1", "h2"]
VMS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]


def small_fleet(
    path: Path, *, speedup: float = FROZEN, wake_latency_s: float = 60.0
) -> SharedFleet:
    hosts = [FleetHostSpec(name, cores=4, core_mhz=2000.0, ram_mb=2048) for name in HOSTS]
    vms = [
        (
            HOSTS[i % 3],
            FleetVmSpec(uuid, f"vm{i}", 1 + i % 2, 256 * (i + 1), CpuTrace.of([0.3, 0.9])),
        )
        for i, uuid in enumerate(VMS)
    ]
    return SharedFleet.create(
        path, hosts, vms, speedup=speedup, bandwidth_mb_s=50.0, wake_latency_s=wake_latency_s
    )


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    handle = Worker()
    yield handle
    handle.close()


def test_cpu_time_follows_the_trace_and_restarts_after_a_migration(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "f.db")
    h0 = fleet.hypervisor("h0")
    vm = VMS[0]  # 1 vCPU, 256 MB: 5.12 s to move at 50 MB/s
    fleet.advance_clock(300.0)
    assert h0.vm_cpu_time_ns(vm) == pytest.approx(0.3 * 300 * 1e9)
    fleet.advance_clock(300.0)
    assert h0.vm_cpu_time_ns(vm) == pytest.approx(1.2 * 300 * 1e9)
    ticket = fleet.start_migration(vm, "h1")
    assert [v.state for v in h0.list_vms() if v.uuid == vm] == [VmState.MIGRATING]
    assert vm not in [v.uuid for v in fleet.hypervisor("h1").list_vms()]
    fleet.advance_clock(5.0)
    assert fleet.locate(vm) == "h0"
    fleet.advance_clock(0.2)
    record = fleet.migration_status(ticket)
    assert record.outcome is MigrationOutcome.SUCCEEDED
    assert record.finished_at == pytest.approx(600.0 + 256 / 50.0)
    assert fleet.locate(vm) == "h1"
    # Trace sample 2 (t = 600..900) is 0.3 again; the counter starts at arrival.
    assert fleet.hypervisor("h1").vm_cpu_time_ns(vm) == pytest.approx(0.3 * (5.2 - 5.12) * 1e9)
    # h0 keeps the CPU time of the VM that left, plus its other VM (2 vCPUs) to 605.2 s.
    departed = 0.3 * 300 + 0.9 * 300 + 0.3 * 5.12
    resident = 2 * (0.3 * 300 + 0.9 * 300 + 0.3 * 5.2)
    times = h0.host_cpu_times()
    assert times.busy_ns / 1e9 == pytest.approx(departed + resident)
    assert times.total_ns / 1e9 == pytest.approx(4 * 605.2)
    fleet.close()


def test_refusals_change_nothing(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "f.db")
    before = fleet.placement()
    with pytest.raises(DriverError, match="already runs on"):
        fleet.start_migration(VMS[0], "h0")
    big = FleetVmSpec("00000000-0000-4000-8000-0000000000ff", "big", 1, 2000, CpuTrace.of([0.1]))
    fleet.add_vm("h2", big)
    with pytest.raises(DriverError, match="RAM free"):
        fleet.start_migration(big.uuid, "h0")
    fleet.remove_vm(big.uuid)
    assert fleet.placement() == before
    assert fleet.migration_history() == ()
    with pytest.raises(InputError, match="already exists"):
        small_fleet(tmp_path / "f.db")
    fleet.close()


def test_opening_something_that_is_not_a_fleet_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no fleet file"):
        SharedFleet.open(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(InputError, match="not a fleet file"):
        SharedFleet.open(other)


def test_power_controls_reachability(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "f.db", wake_latency_s=30.0)
    power = fleet.power()
    power.sleep("h2")
    assert power.status("h2") is PowerState.OFF
    with pytest.raises(DriverError, match="not reachable"):
        fleet.hypervisor("h2").list_vms()
    with pytest.raises(DriverError, match="not reachable"):
        fleet.start_migration(VMS[0], "h2")
    power.wake("h2")
    fleet.advance_clock(29.0)
    assert power.status("h2") is PowerState.OFF
    fleet.advance_clock(1.0)
    assert power.status("h2") is PowerState.ON
    with pytest.raises(ParameterError):
        power.status("nope")
    fleet.close()


def test_a_fleet_built_from_a_planetlab_day(tmp_path: Path) -> None:
    plan = FleetPlan(hosts=3, vms=10, day="20110303", ram_mb=4096, speedup=FROZEN)
    fleet = create_fleet(tmp_path / "f.db", plan)
    placement = fleet.placement()
    assert sorted(placement) == ["host1", "host2", "host3"]
    assert sum(len(v) for v in placement.values()) == 10
    traces = load_bundled_day("20110303")
    fleet.advance_clock(300.0)
    for host in placement:
        vms = fleet.hypervisor(host).list_vms()
        assert sum(vm.ram_mb for vm in vms) <= 4096
        for vm in vms:
            index = int(vm.name.split("-")[0].removeprefix("vm")) - 1
            assert (vm.vcpus, vm.ram_mb) == VM_TYPES[index % len(VM_TYPES)]
            expected = traces.cpu[index, 0] / 100 * vm.vcpus * 300
            assert fleet.vm_cpu_time_ns(host, vm.uuid) / 1e9 == pytest.approx(expected)
    fleet.close()
    with pytest.raises(ParameterError, match="do not fit"):
        create_fleet(tmp_path / "g.db", FleetPlan(hosts=1, vms=10, day="20110303", ram_mb=2048))


def test_two_processes_see_one_fleet(tmp_path: Path, worker: Worker) -> None:
    path = tmp_path / "f.db"
    fleet = small_fleet(path, wake_latency_s=10.0)
    assert worker.value(path, "placement") == fleet.placement()
    worker.value(path, "start_migration", VMS[1], "h0")
    assert ("00000000-0000-4000-8000-000000000001", "migrating") in [
        (v.uuid, v.state.value) for v in fleet.list_vms("h1")
    ]
    fleet.advance_clock(20.0)
    assert worker.value(path, "locate", VMS[1]) == "h0" == fleet.locate(VMS[1])
    # Power changes made by one process are what the other sees.
    worker.value(path, "power_sleep", "h2")
    assert fleet.power().status("h2") is PowerState.OFF
    assert worker.call(path, "list_vms", "h2")[1] == "DriverError"
    fleet.power().wake("h2")
    assert worker.value(path, "power", "h2") == "off"
    worker.value(path, "advance_clock", 10.0)
    assert fleet.power().status("h2") is PowerState.ON
    assert worker.value(path, "list_vms", "h2") == [(VMS[2], "running")]
    fleet.close()


def test_a_vm_is_never_seen_on_two_hosts_during_a_live_migration(
    tmp_path: Path, worker: Worker
) -> None:
    path = tmp_path / "f.db"
    fleet = small_fleet(path, speedup=20.0)  # 1024 MB at 50 MB/s: about 1 s of real time
    worker.send(path, "migrate", VMS[3], "h0", "h1")
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        placement = fleet.placement()
        hosts = [h for h, vms in placement.items() if VMS[3] in vms]
        assert len(hosts) == 1
        seen.append(hosts[0])
        if hosts[0] == "h1":
            break
    assert worker.receive() == ("ok", "succeeded")
    assert seen[0] == "h0" and seen[-1] == "h1"
    assert seen.count("h0") > 1  # observed while it was under way
    fleet.close()


class TwoProcessFleet(RuleBasedStateMachine):
    """Random operations, each run by this process or the worker, on one fleet file."""

    worker: Worker

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="fleet-"))
        self.path = self.dir / "fleet.db"
        self.fleet = small_fleet(self.path, wake_latency_s=5.0)
        self.capacity = {name: 2048 for name in HOSTS}

    def run(self, remote: bool, op: str, *args: object) -> None:
        if remote:
            answer = self.worker.call(self.path, op, *args)
            assert answer[0] == "ok" or answer[1] == "DriverError", answer
        else:
            with contextlib.suppress(DriverError):
                getattr(self.fleet, op)(*args)

    @rule(vm=st.sampled_from(VMS), dest=st.sampled_from(HOSTS), remote=st.booleans())
    def migrate(self, vm: str, dest: str, remote: bool) -> None:
        self.run(remote, "start_migration", vm, dest)

    @rule(vm=st.sampled_from(VMS), remote=st.booleans())
    def abort(self, vm: str, remote: bool) -> None:
        self.run(remote, "abort_migration", vm)

    @rule(vm=st.sampled_from(VMS), count=st.integers(0, 2), at=st.floats(0.0, 0.99))
    def inject_failures(self, vm: str, count: int, at: float) -> None:
        self.fleet.fail_next_migrations(vm, count, at_fraction=at)

    @rule(seconds=st.floats(0.0, 30.0), remote=st.booleans())
    def let_time_pass(self, seconds: float, remote: bool) -> None:
        self.run(remote, "advance_clock", seconds)

    @rule(host=st.sampled_from(HOSTS), remote=st.booleans(), wake=st.booleans())
    def power(self, host: str, remote: bool, wake: bool) -> None:
        self.run(remote, "wake" if wake else "sleep", host)

    @invariant()
    def both_processes_agree_and_every_vm_is_on_exactly_one_host(self) -> None:
        mine = self.fleet.placement()
        assert self.worker.value(self.path, "placement") == mine
        located = sorted(uuid for vms in mine.values() for uuid in vms)
        assert located == sorted(VMS)

    @invariant()
    def no_host_is_promised_more_ram_than_it_has(self) -> None:
        history = self.fleet.migration_history()
        running = [m for m in history if m.outcome is None]
        assert len({m.uuid for m in running}) == len(running)
        ram = {uuid: 256 * (i + 1) for i, uuid in enumerate(VMS)}
        for host, vms in self.fleet.placement().items():
            incoming = sum(m.ram_mb for m in running if m.destination == host)
            assert sum(ram[v] for v in vms) + incoming <= self.capacity[host]

    @invariant()
    def a_completed_move_put_the_vm_on_its_destination(self) -> None:
        last: dict[str, MigrationOutcome | None] = {}
        where: dict[str, str] = {}
        for m in self.fleet.migration_history():
            last[m.uuid] = m.outcome
            if m.outcome is MigrationOutcome.SUCCEEDED:
                where[m.uuid] = m.destination
        for uuid, host in where.items():
            if last[uuid] is MigrationOutcome.SUCCEEDED:
                assert self.fleet.locate(uuid) == host

    def teardown(self) -> None:
        self.fleet.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_random_operations_from_two_processes_keep_the_fleet_consistent(worker: Worker) -> None:
    TwoProcessFleet.worker = worker
    run_state_machine_as_test(
        TwoProcessFleet,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_migration_through_the_hypervisor_waits_on_the_shared_clock(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "f.db", speedup=100.0)
    result = fleet.hypervisor("h1", poll_interval_s=1.0).migrate(VMS[1], MigrationTarget("h2"))
    assert result.succeeded
    assert result.duration_s == pytest.approx(512 / 50.0, abs=1.5)
    assert fleet.locate(VMS[1]) == "h2"
    fleet.close()
