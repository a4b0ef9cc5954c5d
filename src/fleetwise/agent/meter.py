"""CPU use of one collection interval from cumulative counters (pure arithmetic).

A VM's MHz over an interval is ``Δ(CPU time of all its vCPUs) / Δt × core MHz``, so a
VM keeping two vCPUs busy counts twice a core. Counters come from the hypervisor:

* a VM seen in both readings with a counter that grew: the plain difference;
* a VM that appeared since the last reading, or whose counter went backwards (it left
  and came back, or restarted; QEMU starts a new counter on every host): its counter
  started inside the interval, so its whole value is what it used here. A value too
  large to have been used within the interval means the counter is older than that
  (e.g. the agent itself restarted) and the VM gets no value this time;
* a VM that disappeared simply has no value.

The host's MHz comes from its busy/total CPU times; the hypervisor's share is what the
host used beyond its VMs, never negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fleetwise.drivers.hypervisor.base import HostCpuTimes

__all__ = ["COUNTER_SLACK", "IntervalUse", "Readings", "interval_use"]

COUNTER_SLACK = 1.05
"""Tolerance on "at most all vCPUs busy for the whole interval" (reading jitter)."""


@dataclass(frozen=True)
class Readings:
    """Counters read at clock time ``t``: CPU ns per VM and the host's CPU times."""

    t: float
    vm_cpu_ns: Mapping[str, int] = field(default_factory=dict)
    host: HostCpuTimes | None = None


@dataclass(frozen=True)
class IntervalUse:
    """Mean CPU use over one interval of ``seconds``, in MHz."""

    seconds: float
    vm_mhz: dict[str, float]
    host_mhz: float
    hypervisor_mhz: float

    @property
    def vms_mhz(self) -> float:
        """Total MHz of the VMs."""
        return sum(self.vm_mhz.values())


def _vm_mhz(
    before: int | None, after: int, vcpus: int, seconds: float, core_mhz: float
) -> float | None:
    if before is not None and after >= before:
        used_ns = after - before
    elif after <= vcpus * seconds * 1e9 * COUNTER_SLACK:
        used_ns = after  # a counter that started inside the interval
    else:
        return None
    mhz = used_ns / (seconds * 1e9) * core_mhz
    return min(mhz, vcpus * core_mhz)


def interval_use(
    before: Readings | None,
    after: Readings,
    vcpus: Mapping[str, int],
    *,
    cores: int,
    core_mhz: float,
) -> IntervalUse | None:
    """CPU use between two readings, or None when there is no earlier reading to compare.

    ``vcpus`` gives each VM's vCPU count (VMs missing from it are not measured).
    """
    if before is None or after.t <= before.t:
        return None
    seconds = after.t - before.t
    vm_mhz: dict[str, float] = {}
    for uuid, cpu_ns in after.vm_cpu_ns.items():
        count = vcpus.get(uuid)
        if count is None:
            continue
        mhz = _vm_mhz(before.vm_cpu_ns.get(uuid), cpu_ns, count, seconds, core_mhz)
        if mhz is not None:
            vm_mhz[uuid] = mhz
    vms_total = sum(vm_mhz.values())
    host_mhz = vms_total
    if after.host is not None and before.host is not None:
        grew = (
            after.host.total_ns > before.host.total_ns and after.host.busy_ns >= before.host.busy_ns
        )
        if grew:
            host_mhz = after.host.utilisation_since(before.host) * cores * core_mhz
    return IntervalUse(
        seconds=seconds,
        vm_mhz=vm_mhz,
        host_mhz=host_mhz,
        hypervisor_mhz=max(0.0, host_mhz - vms_total),
    )
