"""A VM of the shared simulated fleet that crashes on its own (``fleetwise lab crash``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.shared_fleet import (
    CrashedVm,
    FleetHostSpec,
    FleetVmSpec,
    SharedFleet,
)
from fleetwise.errors import ParameterError

FROZEN = 1e-9  # real time does not move simulated time noticeably
A = "0a000000-0000-4000-8000-000000000001"
B = "0b000000-0000-4000-8000-000000000002"
C = "0b100000-0000-4000-8000-000000000003"


@pytest.fixture
def fleet(tmp_path: Path) -> SharedFleet:
    hosts = [FleetHostSpec(name, cores=2, core_mhz=2000.0, ram_mb=4096) for name in ("h1", "h2")]
    vms = [
        (host, FleetVmSpec(uuid, f"vm-{uuid[:3]}", 1, 1024, CpuTrace.of([0.5])))
        for host, uuid in (("h1", A), ("h1", B), ("h2", C))
    ]
    return SharedFleet.create(tmp_path / "f.db", hosts, vms, speedup=FROZEN, bandwidth_mb_s=10.0)


def test_a_crashed_vm_is_gone_and_its_cpu_time_stays_with_the_host(fleet: SharedFleet) -> None:
    fleet.advance_clock(100.0)
    busy_before = fleet.host_cpu_times("h1").busy_ns
    assert fleet.crash_vm(A) == CrashedVm(A, "vm-0a0", "h1")
    assert fleet.locate(A) is None
    assert [vm.uuid for vm in fleet.list_vms("h1")] == [B]
    assert fleet.host_cpu_times("h1").busy_ns == pytest.approx(busy_before, rel=1e-6)
    fleet.close()


def test_vms_are_found_by_uuid_start_or_name(fleet: SharedFleet) -> None:
    assert fleet.crash_vm("vm-0b0").uuid == B
    assert fleet.crash_vm("0B1").uuid == C  # the start of a UUID, in any case
    assert fleet.crash_vm(A.upper()).uuid == A
    for unknown in ("0b", "zz", ""):
        with pytest.raises(ParameterError, match=f"no VM '{unknown}'"):
            fleet.crash_vm(unknown)
    fleet.close()


def test_an_ambiguous_start_is_refused(fleet: SharedFleet) -> None:
    with pytest.raises(ParameterError, match="more than one VM '0b'"):
        fleet.crash_vm("0b")
    assert fleet.locate(B) == "h1" and fleet.locate(C) == "h2"
    fleet.close()


def test_a_vm_crashing_while_it_migrates_fails_the_migration(fleet: SharedFleet) -> None:
    ticket = fleet.start_migration(A, "h2")
    fleet.crash_vm(A)
    record = fleet.migration_status(ticket)
    assert record.outcome is MigrationOutcome.FAILED
    assert record.message == "the VM crashed"
    assert fleet.locate(A) is None
    assert [vm.uuid for vm in fleet.list_vms("h2")] == [C]
    fleet.close()
