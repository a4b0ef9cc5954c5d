"""Hypervisor drivers: the interface, libvirt, and a simulated fleet.

The libvirt driver lives in :mod:`fleetwise.drivers.hypervisor.libvirt_driver` and
imports libvirt-python only when a connection is opened.
"""

from __future__ import annotations

from fleetwise.drivers.hypervisor.base import (
    DEFAULT_MIGRATION_TIMEOUT_S,
    CpuTuning,
    HostCpuTimes,
    HostInfo,
    Hypervisor,
    MigrationProgress,
    MigrationResult,
    MigrationTarget,
    ProgressCallback,
    VmInfo,
    VmState,
)

__all__ = [
    "DEFAULT_MIGRATION_TIMEOUT_S",
    "CpuTuning",
    "HostCpuTimes",
    "HostInfo",
    "Hypervisor",
    "MigrationProgress",
    "MigrationResult",
    "MigrationTarget",
    "ProgressCallback",
    "VmInfo",
    "VmState",
]
