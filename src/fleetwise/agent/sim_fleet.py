"""Build a shared simulated fleet whose VMs replay one bundled PlanetLab day."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from pathlib import Path

from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.shared_fleet import FleetHostSpec, FleetVmSpec, SharedFleet
from fleetwise.errors import ParameterError
from fleetwise.traces import load_bundled_day

__all__ = ["TRACE_SAMPLE_S", "VM_TYPES", "FleetPlan", "create_fleet"]

VM_TYPES: tuple[tuple[int, int], ...] = ((1, 613), (1, 870), (2, 1740), (1, 1740))
"""(vCPUs, RAM MB) of the VMs, assigned in turn."""

_VM_NAMESPACE = uuid_module.UUID("8f0e4b1c-2d7a-4e59-9a63-5b1f0c7d2e41")
TRACE_SAMPLE_S = 300.0
"""Simulated seconds between two samples of a PlanetLab trace."""


@dataclass(frozen=True)
class FleetPlan:
    """Shape of a new fleet: ``hosts`` identical hosts and ``vms`` VMs from ``day``."""

    hosts: int
    vms: int
    day: str
    speedup: float = 1.0
    cores: int = 4
    core_mhz: float = 2660.0
    ram_mb: int = 8192
    bandwidth_mb_s: float = 62.5
    wake_latency_s: float = 60.0
    host_prefix: str = "host"

    def __post_init__(self) -> None:
        if self.hosts < 1:
            raise ParameterError(f"a fleet needs at least one host, got {self.hosts}")
        if self.vms < 0:
            raise ParameterError(f"the number of VMs must be >= 0, got {self.vms}")


def create_fleet(path: Path, plan: FleetPlan) -> SharedFleet:
    """Write a new fleet file; VM ``i`` replays trace ``i`` of the day, placed round-robin
    on hosts with enough free RAM."""
    traces = load_bundled_day(plan.day)
    if plan.vms > traces.vm_count:
        raise ParameterError(f"day {plan.day} has {traces.vm_count} traces, asked for {plan.vms}")
    hosts = [
        FleetHostSpec(f"{plan.host_prefix}{i + 1}", plan.cores, plan.core_mhz, plan.ram_mb)
        for i in range(plan.hosts)
    ]
    free = {h.name: h.ram_mb for h in hosts}
    fractions = traces.fractions()
    placed: list[tuple[str, FleetVmSpec]] = []
    for i in range(plan.vms):
        vcpus, ram_mb = VM_TYPES[i % len(VM_TYPES)]
        name = traces.vm_names[i]
        spec = FleetVmSpec(
            uuid=str(uuid_module.uuid5(_VM_NAMESPACE, f"{plan.day}/{i}/{name}")),
            name=f"vm{i + 1}-{name}"[:64],
            vcpus=vcpus,
            ram_mb=ram_mb,
            trace=CpuTrace.of(fractions[i].tolist(), TRACE_SAMPLE_S),
        )
        order = [hosts[(i + k) % len(hosts)].name for k in range(len(hosts))]
        host = next((h for h in order if free[h] >= ram_mb), None)
        if host is None:
            raise ParameterError(
                f"{plan.vms} VMs do not fit into the RAM of {plan.hosts} hosts of {plan.ram_mb} MB"
            )
        free[host] -= ram_mb
        placed.append((host, spec))
    return SharedFleet.create(
        path,
        hosts,
        placed,
        speedup=plan.speedup,
        bandwidth_mb_s=plan.bandwidth_mb_s,
        wake_latency_s=plan.wake_latency_s,
        label=f"PlanetLab {plan.day}",
    )
