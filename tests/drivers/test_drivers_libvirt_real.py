"""The libvirt driver on real libvirtd + QEMU/KVM: CPU time, CPU caps, live migration.

Uses a private two-host lab of ``scripts/libvirt-lab.sh`` (``tests/helpers/libvirt_lab.py``),
started for the session and stopped afterwards, and tiny OS-less guests. Waits on guests
follow their CPU time, so they hold on a machine busy with other work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import (
    MigrationProgress,
    MigrationTarget,
    VmState,
)
from fleetwise.drivers.hypervisor.lab_guests import (
    GuestLoad,
    LabGuest,
    remove_guest,
    start_guest,
    write_disk,
)
from fleetwise.drivers.hypervisor.libvirt_driver import LibvirtHypervisor
from tests.helpers.libvirt_lab import (
    Daemon,
    Lab,
    lab_unavailable,
    running_lab,
    wait_until_idle,
    wait_until_running,
)

pytestmark = pytest.mark.libvirt_real

STALL_S = 60.0  # a guest that got no CPU at all for this long is stuck


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(f"real libvirt lab unavailable: {reason}")
    with running_lab() as running:
        yield running


@pytest.fixture
def make_guest(lab: Lab) -> Iterator[Callable[..., str]]:
    """Start a lab guest on host A; every guest made is removed from both hosts after."""
    made: list[str] = []

    def make(name: str, load: str, vcpus: int = 1) -> str:
        disk = write_disk(lab.images / f"{name}-{os.getpid()}.raw", GuestLoad(load))
        guest = LabGuest(f"fw-test-{name}-{os.getpid()}", disk, vcpus=vcpus, memory_mib=128)
        start_guest(lab.uri_a, guest)
        made.append(guest.uuid)
        return guest.uuid

    yield make
    for uuid in made:
        for uri in (lab.uri_a, lab.uri_b):
            remove_guest(uri, uuid)


@pytest.fixture
def hosts(lab: Lab) -> Iterator[tuple[LibvirtHypervisor, LibvirtHypervisor]]:
    a = LibvirtHypervisor(lab.uri_a, allow_unsafe_migration=True, poll_interval_s=0.2)
    b = LibvirtHypervisor(lab.uri_b, allow_unsafe_migration=True, poll_interval_s=0.2)
    yield a, b
    a.close()
    b.close()


def measure(
    hv: LibvirtHypervisor, uuids: list[str], seconds: float
) -> tuple[dict[str, float], float]:
    """Cores each VM used over ``seconds``, and the host's spare cores meanwhile."""
    cores = hv.host_info().cores
    h0, t0, c0 = hv.host_cpu_times(), time.monotonic(), {u: hv.vm_cpu_time_ns(u) for u in uuids}
    time.sleep(seconds)
    h1, t1, c1 = hv.host_cpu_times(), time.monotonic(), {u: hv.vm_cpu_time_ns(u) for u in uuids}
    rates = {u: (c1[u] - c0[u]) / 1e9 / (t1 - t0) for u in uuids}
    return rates, (1.0 - h1.utilisation_since(h0)) * cores


@pytest.mark.slow
def test_cpu_time_follows_real_load(
    hosts: tuple[LibvirtHypervisor, LibvirtHypervisor],
    make_guest: Callable[..., str],
    record_property: Callable[[str, object], None],
) -> None:
    a, b = hosts
    busy = make_guest("busy", "busy", vcpus=1)
    idle = make_guest("idle", "idle", vcpus=2)
    info_a, info_b = a.host_info(), b.host_info()
    assert info_a.uuid == "11111111-1111-4111-8111-111111111111"
    assert info_b.uuid == "22222222-2222-4222-8222-222222222222"
    assert info_a.cores == os.cpu_count() and info_a.core_mhz > 0
    listed = {vm.uuid: vm for vm in a.list_vms()}
    assert listed[busy].state is VmState.RUNNING and listed[busy].vcpus == 1
    assert listed[idle].vcpus == 2 and listed[idle].ram_mb == 128
    with Daemon(a.uri) as daemon:
        wait_until_idle(daemon, idle, busy, stall_s=STALL_S)
    rates, spare = measure(a, [busy, idle], 3.0)
    record_property("busy_cores", rates[busy])
    record_property("idle_cores", rates[idle])
    record_property("spare_cores", spare)
    assert rates[idle] < 0.1
    assert rates[busy] > 5 * rates[idle] + 0.1
    assert rates[busy] < 1.1  # one vCPU cannot use more than one core
    if spare > 0.5:  # the busy guest was not starved by other load on the machine
        assert rates[busy] > 0.85


def test_cpu_cap_limits_a_busy_guest(
    hosts: tuple[LibvirtHypervisor, LibvirtHypervisor], make_guest: Callable[..., str]
) -> None:
    a, _ = hosts
    busy = make_guest("capped", "busy")
    a.set_cpu_tuning(busy, shares=512, quota_us=30_000, period_us=100_000)
    tuning = a.cpu_tuning(busy)
    assert (tuning.shares, tuning.quota_us, tuning.period_us) == (512, 30_000, 100_000)
    time.sleep(0.3)
    capped, spare_capped = measure(a, [busy], 2.0)
    assert capped[busy] < 0.3 * 1.1 + 0.02
    a.set_cpu_tuning(busy, quota_us=-1)
    assert a.cpu_tuning(busy).quota_us == -1
    time.sleep(0.3)
    free, spare_free = measure(a, [busy], 2.0)
    if spare_capped > 0.7 and spare_free > 0.5:
        assert free[busy] > 0.6


def test_live_migration_moves_the_guest(
    hosts: tuple[LibvirtHypervisor, LibvirtHypervisor],
    lab: Lab,
    make_guest: Callable[..., str],
    record_property: Callable[[str, object], None],
) -> None:
    a, b = hosts
    busy = make_guest("mover", "busy")
    reports: list[MigrationProgress] = []
    states: list[VmState] = []

    def on_progress(report: MigrationProgress) -> None:
        reports.append(report)
        states.extend(vm.state for vm in a.list_vms() if vm.uuid == busy)

    target = MigrationTarget("b", uri=lab.uri_b, migration_uri="tcp://127.0.0.1")
    result = a.migrate(busy, target, progress=on_progress, timeout_s=30)

    record_property("migration_s", result.duration_s)
    record_property("progress_reports", len(reports))
    assert result.outcome is MigrationOutcome.SUCCEEDED, result.message
    assert result.duration_s < 30
    assert reports and VmState.MIGRATING in states
    assert [r.elapsed_s for r in reports] == sorted(r.elapsed_s for r in reports)
    assert not a.has_vm(busy)
    assert b.has_vm(busy)
    on_b = {vm.uuid: vm for vm in b.list_vms()}
    assert on_b[busy].state is VmState.RUNNING
    with Daemon(b.uri) as daemon:
        wait_until_running(daemon, busy, cpu_s=0.1, stall_s=STALL_S)


def test_timed_out_migration_is_aborted_and_guest_stays(
    hosts: tuple[LibvirtHypervisor, LibvirtHypervisor], lab: Lab, make_guest: Callable[..., str]
) -> None:
    a, b = hosts
    idle = make_guest("stayer", "idle")
    # Throttle the transfer to 1 MiB/s so that the 128 MiB guest cannot finish before the
    # 0.3 s time-out (unthrottled it can move in under 2 s, before an abort takes hold).
    import libvirt

    conn = libvirt.open(lab.uri_a)
    try:
        conn.lookupByUUIDString(idle).migrateSetMaxSpeed(1, 0)
    finally:
        conn.close()
    target = MigrationTarget("b", uri=lab.uri_b, migration_uri="tcp://127.0.0.1")
    result = a.migrate(idle, target, timeout_s=0.3)
    assert result.outcome is MigrationOutcome.TIMED_OUT, result
    assert a.has_vm(idle) and not b.has_vm(idle)
    states = {vm.uuid: vm.state for vm in a.list_vms()}
    assert states[idle] is VmState.RUNNING


def test_migration_without_shared_storage_needs_the_unsafe_flag(
    lab: Lab, make_guest: Callable[..., str]
) -> None:
    idle = make_guest("careful", "idle")
    with LibvirtHypervisor(lab.uri_a, poll_interval_s=0.2) as a:
        target = MigrationTarget("b", uri=lab.uri_b, migration_uri="tcp://127.0.0.1")
        result = a.migrate(idle, target, timeout_s=30)
        assert result.outcome is MigrationOutcome.FAILED
        assert "unsafe" in result.message.lower()
        assert a.has_vm(idle)
