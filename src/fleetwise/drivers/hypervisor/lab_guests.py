"""Tiny OS-less guests for the libvirt lab: a boot sector that spins or idles.

A busy guest runs ``jmp $`` and keeps one vCPU fully loaded; an idle guest runs
``sti; hlt; jmp`` and sleeps until the next interrupt. Both boot in well under a
second and need no OS image, which makes real CPU load and real live migration cheap
to test.
"""

from __future__ import annotations

import uuid as uuid_module
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from fleetwise.drivers.hypervisor.libvirt_driver import load_libvirt
from fleetwise.errors import DriverError, ParameterError

__all__ = [
    "DISK_BYTES",
    "GuestLoad",
    "LabGuest",
    "boot_sector",
    "domain_xml",
    "remove_guest",
    "start_guest",
    "write_disk",
]

DISK_BYTES = 1024 * 1024
_SECTOR = 512


class GuestLoad(StrEnum):
    """What the guest's CPU does after boot."""

    BUSY = "busy"
    IDLE = "idle"


_BOOT_CODE = {
    GuestLoad.BUSY: bytes([0xEB, 0xFE]),  # jmp $
    GuestLoad.IDLE: bytes([0xFB, 0xF4, 0xEB, 0xFD]),  # sti; hlt; jmp back to hlt
}


def boot_sector(load: GuestLoad) -> bytes:
    """A 512-byte MBR: the load's code, zero padding, and the 0x55AA signature."""
    code = _BOOT_CODE[GuestLoad(load)]
    return code + bytes(_SECTOR - 2 - len(code)) + b"\x55\xaa"


def write_disk(path: Path, load: GuestLoad, size_bytes: int = DISK_BYTES) -> Path:
    """Write a raw disk image that boots into ``load``; returns ``path``."""
    if size_bytes < _SECTOR or size_bytes % _SECTOR:
        raise ParameterError(f"disk size must be a positive multiple of 512, got {size_bytes}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as image:
        image.write(boot_sector(load))
        image.truncate(size_bytes)
    return path


@dataclass(frozen=True)
class LabGuest:
    """A lab guest: name, disk image and size. ``virt_type`` is ``kvm`` or ``qemu`` (TCG)."""

    name: str
    disk: Path
    vcpus: int = 1
    memory_mib: int = 128
    virt_type: str = "kvm"
    uuid: str = field(default_factory=lambda: str(uuid_module.uuid4()))

    def __post_init__(self) -> None:
        if self.virt_type not in ("kvm", "qemu"):
            raise ParameterError(f"virt_type must be kvm or qemu, got {self.virt_type!r}")
        if self.vcpus < 1 or self.memory_mib < 16:
            raise ParameterError("a lab guest needs >= 1 vCPU and >= 16 MiB")


def domain_xml(guest: LabGuest) -> str:
    """libvirt domain XML for the guest: BIOS boot from its raw IDE disk, no devices else."""
    domain = ET.Element("domain", type=guest.virt_type)
    ET.SubElement(domain, "name").text = guest.name
    ET.SubElement(domain, "uuid").text = guest.uuid
    ET.SubElement(domain, "memory", unit="MiB").text = str(guest.memory_mib)
    ET.SubElement(domain, "vcpu").text = str(guest.vcpus)
    os_el = ET.SubElement(domain, "os")
    ET.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    devices = ET.SubElement(domain, "devices")
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="raw")
    ET.SubElement(disk, "source", file=str(guest.disk))
    ET.SubElement(disk, "target", dev="hda", bus="ide")
    ET.SubElement(devices, "memballoon", model="none")
    return ET.tostring(domain, encoding="unicode")


def start_guest(uri: str, guest: LabGuest) -> None:
    """Define the guest persistently on the libvirt at ``uri`` and start it."""
    lv = load_libvirt()
    try:
        conn = lv.open(uri)
        try:
            conn.defineXML(domain_xml(guest)).create()
        finally:
            conn.close()
    except lv.libvirtError as exc:
        raise DriverError(f"starting lab guest {guest.name} on {uri} failed: {exc}") from exc


def remove_guest(uri: str, uuid: str) -> bool:
    """Stop and undefine the guest on ``uri``; False if it was not there."""
    lv = load_libvirt()
    try:
        conn = lv.open(uri)
    except lv.libvirtError as exc:
        raise DriverError(f"connecting to {uri} failed: {exc}") from exc
    try:
        try:
            dom = conn.lookupByUUIDString(uuid)
        except lv.libvirtError:
            return False
        try:
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        except lv.libvirtError as exc:
            raise DriverError(f"removing guest {uuid} from {uri} failed: {exc}") from exc
        return True
    finally:
        conn.close()
