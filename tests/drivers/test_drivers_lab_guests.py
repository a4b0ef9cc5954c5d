"""Boot sectors, disk images and domain XML of the lab's OS-less guests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fleetwise.drivers.hypervisor.lab_guests import (
    DISK_BYTES,
    GuestLoad,
    LabGuest,
    boot_sector,
    domain_xml,
    write_disk,
)
from fleetwise.errors import ParameterError


@pytest.mark.parametrize(
    ("load", "code"),
    [(GuestLoad.BUSY, b"\xeb\xfe"), (GuestLoad.IDLE, b"\xfb\xf4\xeb\xfd")],
)
def test_boot_sector(load: GuestLoad, code: bytes) -> None:
    sector = boot_sector(load)
    assert len(sector) == 512
    assert sector.startswith(code)
    assert sector[len(code) : 510] == bytes(510 - len(code))
    assert sector[510:] == b"\x55\xaa"


def test_disk_image_is_one_mebibyte_with_the_boot_sector(tmp_path: Path) -> None:
    path = write_disk(tmp_path / "images" / "busy.raw", GuestLoad.BUSY)
    data = path.read_bytes()
    assert len(data) == DISK_BYTES == 1024 * 1024
    assert data[:512] == boot_sector(GuestLoad.BUSY)
    assert not any(data[512:])
    with pytest.raises(ParameterError):
        write_disk(tmp_path / "odd.raw", GuestLoad.IDLE, size_bytes=1000)


def test_domain_xml(tmp_path: Path) -> None:
    guest = LabGuest("g1", tmp_path / "g1.raw", vcpus=2, memory_mib=96)
    root = ET.fromstring(domain_xml(guest))
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "g1"
    assert root.findtext("uuid") == guest.uuid
    assert root.findtext("vcpu") == "2"
    memory = root.find("memory")
    assert memory is not None and (memory.get("unit"), memory.text) == ("MiB", "96")
    source = root.find("devices/disk/source")
    assert source is not None and source.get("file") == str(tmp_path / "g1.raw")
    balloon = root.find("devices/memballoon")
    assert balloon is not None and balloon.get("model") == "none"


def test_guest_validation(tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        LabGuest("g", tmp_path / "d", virt_type="xen")
    with pytest.raises(ParameterError):
        LabGuest("g", tmp_path / "d", vcpus=0)
    assert LabGuest("a", tmp_path / "d").uuid != LabGuest("b", tmp_path / "d").uuid
