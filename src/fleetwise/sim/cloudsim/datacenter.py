"""The data centre of the published CloudSim PlanetLab experiments.

800 hosts alternating HP ProLiant ML110 G4 and G5, four VM types assigned to
contiguous quarters of the VMs, 1 Gbit/s host links. Values as in CloudSim 3.0.3's
PlanetLab runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleetwise.core.power import POWER_MODELS, TablePowerModel

__all__ = ["Datacenter", "HostType", "VmType", "build_datacenter"]

SCHEDULING_INTERVAL_S = 300.0
HOST_BW = 1_000_000.0
VM_BW = 100_000.0
HOST_RAM_MB = 4096.0


@dataclass(frozen=True)
class HostType:
    name: str
    pes: int
    pe_mips: float
    ram_mb: float
    power: TablePowerModel


@dataclass(frozen=True)
class VmType:
    mips: float
    ram_mb: float


HOST_TYPES: tuple[HostType, ...] = (
    HostType("HP ProLiant ML110 G4", 2, 1860.0, HOST_RAM_MB, POWER_MODELS["hp-ml110-g4"]),  # type: ignore[arg-type]
    HostType("HP ProLiant ML110 G5", 2, 2660.0, HOST_RAM_MB, POWER_MODELS["hp-ml110-g5"]),  # type: ignore[arg-type]
)

VM_TYPES: tuple[VmType, ...] = (
    VmType(2500.0, 870.0),
    VmType(2000.0, 1740.0),
    VmType(1000.0, 1740.0),
    VmType(500.0, 613.0),
)


@dataclass(frozen=True)
class Datacenter:
    """Per-host and per-VM constants as arrays (index = id)."""

    host_type: npt.NDArray[np.intp]
    host_total: npt.NDArray[np.float64]
    host_pe: npt.NDArray[np.float64]
    power_table: npt.NDArray[np.float64]  # hosts × 11 watts
    vm_mips: npt.NDArray[np.float64]
    vm_ram: npt.NDArray[np.float64]
    migration_time: npt.NDArray[np.float64]  # seconds per VM
    vm_hash: npt.NDArray[np.int64]  # see :func:`uid_hash`

    @property
    def hosts(self) -> int:
        return int(self.host_total.size)

    @property
    def vms(self) -> int:
        return int(self.vm_mips.size)

    @property
    def type_totals(self) -> npt.NDArray[np.float64]:
        """Capacity (MIPS) of each host type, that of its first host."""
        types = int(self.host_type.max()) + 1
        return np.array(
            [float(self.host_total[np.argmax(self.host_type == t)]) for t in range(types)]
        )


BROKER_ID = 2  # CloudSim's entities: shutdown 0, information service 1, broker 2


def uid_hash(vm: int) -> int:
    """Java's spread ``hashCode`` of the VM's uid ``"2-<id>"`` (unsigned 32 bits).

    A host's VM scheduler keeps its VMs in a Java ``HashMap`` keyed by this uid
    (:mod:`fleetwise.sim.cloudsim.schedmap`).
    """
    h = 0
    for ch in f"{BROKER_ID}-{vm}":
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h ^ (h >> 16)


def build_datacenter(vm_count: int, host_count: int = 800) -> Datacenter:
    """Hosts alternate the two types (host i has type i mod 2); VM i has type i // ceil(n/4)."""
    host_type = np.arange(host_count, dtype=np.intp) % 2
    pe = np.array([t.pe_mips for t in HOST_TYPES])[host_type]
    pes = np.array([t.pes for t in HOST_TYPES])[host_type]
    tables = np.array([t.power.watts for t in HOST_TYPES])[host_type]
    quarter = -(-vm_count // 4)
    vm_type = np.arange(vm_count) // quarter
    mips = np.array([t.mips for t in VM_TYPES])[vm_type]
    ram = np.array([t.ram_mb for t in VM_TYPES])[vm_type]
    migration = ram / (HOST_BW / (2 * 8000))
    return Datacenter(
        host_type=host_type,
        host_total=pe * pes,
        host_pe=pe,
        power_table=tables,
        vm_mips=mips,
        vm_ram=ram,
        migration_time=migration,
        vm_hash=np.array([uid_hash(v) for v in range(vm_count)], dtype=np.int64),
    )
