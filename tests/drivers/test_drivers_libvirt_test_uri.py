"""The libvirt driver against libvirt's in-process test driver (a private node per test)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import MigrationTarget, VmState
from fleetwise.errors import DriverError, ParameterError

pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from fleetwise.drivers.hypervisor.libvirt_driver import LibvirtHypervisor

ONE = "11111111-0000-4000-8000-000000000001"
QUAD = "11111111-0000-4000-8000-000000000004"
STOPPED = "11111111-0000-4000-8000-000000000000"
ABSENT = "99999999-0000-4000-8000-000000000000"

NODE_XML = """\
<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <cpu>
    <mhz>2400</mhz><model>x86_64</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
  </cpu>
  <memory>8388608</memory>
  <domain type='test'>
    <name>one</name><uuid>{one}</uuid><memory>262144</memory><vcpu>1</vcpu>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test'>
    <name>quad</name><uuid>{quad}</uuid><memory>1048576</memory><vcpu>4</vcpu>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test'>
    <name>stopped</name><uuid>{stopped}</uuid><memory>524288</memory><vcpu>2</vcpu>
    <os><type>hvm</type></os><test:runstate>5</test:runstate>
  </domain>
</node>
"""


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML.format(one=ONE, quad=QUAD, stopped=STOPPED))
    return f"test://{path}"


@pytest.fixture
def hv(node_uri: str) -> Iterator[LibvirtHypervisor]:
    with LibvirtHypervisor(node_uri) as driver:
        yield driver


def test_host_info_reports_node_capacity(hv: LibvirtHypervisor) -> None:
    info = hv.host_info()
    assert (info.cores, info.core_mhz, info.ram_mb) == (4, 2400.0, 8192)
    assert info.total_mhz == 9600.0
    assert info.hostname


def test_core_mhz_override_wins(node_uri: str) -> None:
    with LibvirtHypervisor(node_uri, core_mhz=3000.0) as driver:
        assert driver.host_info().core_mhz == 3000.0


def test_list_vms_gives_state_vcpus_and_ram(hv: LibvirtHypervisor) -> None:
    vms = {vm.name: vm for vm in hv.list_vms()}
    assert set(vms) == {"one", "quad", "stopped"}
    assert (vms["one"].uuid, vms["one"].state, vms["one"].vcpus, vms["one"].ram_mb) == (
        ONE,
        VmState.RUNNING,
        1,
        256,
    )
    assert (vms["quad"].vcpus, vms["quad"].ram_mb) == (4, 1024)
    assert vms["stopped"].state is VmState.SHUTOFF


def test_has_vm(hv: LibvirtHypervisor) -> None:
    assert hv.has_vm(ONE)
    assert hv.has_vm(STOPPED)
    assert not hv.has_vm(ABSENT)


def test_cpu_time_counts_every_vcpu(hv: LibvirtHypervisor) -> None:
    # The test driver gives every vCPU the same (clock-derived) time, so a VM with
    # four vCPUs must read four times a VM with one.
    one = hv.vm_cpu_time_ns(ONE)
    quad = hv.vm_cpu_time_ns(QUAD)
    assert one > 0
    assert quad / one == pytest.approx(4.0, rel=1e-3)
    assert hv.vm_cpu_time_ns(ONE) >= one


def test_cpu_time_of_stopped_or_unknown_vm_is_a_driver_error(hv: LibvirtHypervisor) -> None:
    with pytest.raises(DriverError, match="not running"):
        hv.vm_cpu_time_ns(STOPPED)
    with pytest.raises(DriverError, match=f"no VM {ABSENT}"):
        hv.vm_cpu_time_ns(ABSENT)


def test_malformed_uuid_is_bad_input(hv: LibvirtHypervisor) -> None:
    with pytest.raises(ParameterError, match="not a VM UUID"):
        hv.has_vm("not-a-uuid")


def test_host_cpu_times_are_consistent(hv: LibvirtHypervisor) -> None:
    times = hv.host_cpu_times()
    assert 0 < times.busy_ns <= times.total_ns


def test_unsupported_migration_fails_and_leaves_vm(hv: LibvirtHypervisor) -> None:
    result = hv.migrate(ONE, MigrationTarget("elsewhere", uri="test:///default"), timeout_s=5)
    assert result.outcome is MigrationOutcome.FAILED
    assert not result.succeeded
    assert "not supported" in result.message
    assert hv.has_vm(ONE)


def test_unreachable_destination_fails_the_migration(hv: LibvirtHypervisor, tmp_path: Path) -> None:
    target = MigrationTarget("ghost", uri=f"test://{tmp_path}/missing.xml")
    result = hv.migrate(ONE, target, timeout_s=5)
    assert result.outcome is MigrationOutcome.FAILED
    assert "cannot reach" in result.message


def test_migrating_unknown_vm_raises(hv: LibvirtHypervisor) -> None:
    with pytest.raises(DriverError):
        hv.migrate(ABSENT, MigrationTarget("b", uri="test:///default"))


def test_abort_without_migration_returns_false(hv: LibvirtHypervisor) -> None:
    assert hv.abort_migration(ONE) is False


def test_cpu_tuning_unsupported_by_test_driver_is_a_driver_error(hv: LibvirtHypervisor) -> None:
    with pytest.raises(DriverError, match="does not support CPU tuning"):
        hv.set_cpu_tuning(ONE, shares=512)


def test_out_of_range_tuning_is_rejected_before_calling_libvirt(hv: LibvirtHypervisor) -> None:
    with pytest.raises(ParameterError, match="shares"):
        hv.set_cpu_tuning(ONE, shares=1)
    with pytest.raises(ParameterError, match="period_us"):
        hv.set_cpu_tuning(ONE, period_us=10)
    with pytest.raises(ParameterError, match="quota_us"):
        hv.set_cpu_tuning(ONE, quota_us=5)


def test_bad_uri_is_a_driver_error(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="connecting failed"):
        LibvirtHypervisor(f"test://{tmp_path}/nope.xml")


def test_closed_driver_refuses_calls(node_uri: str) -> None:
    driver = LibvirtHypervisor(node_uri)
    driver.close()
    driver.close()
    with pytest.raises(DriverError, match="closed"):
        driver.list_vms()


def test_missing_libvirt_python_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)
    with pytest.raises(DriverError, match="libvirt-python is not installed"):
        LibvirtHypervisor("test:///default")
