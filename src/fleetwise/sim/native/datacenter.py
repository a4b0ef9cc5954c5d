"""The native model's data centre: a scenario's hosts and a trace set's VMs as arrays.

Hosts are named ``<type>-<n>`` in the scenario's order; VMs are named after their
trace files. Arrays are indexed by host or VM position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleetwise.core.power import PowerModel, power_table
from fleetwise.core.types import FloatArray
from fleetwise.errors import InputError
from fleetwise.sim.native.scenario import Scenario, VmSizes
from fleetwise.traces.loader import TraceSet

__all__ = ["NativeDatacenter", "build_datacenter"]


@dataclass(frozen=True)
class NativeDatacenter:
    """Constants of one run: hosts and VMs."""

    host_ids: tuple[str, ...]
    host_mhz: FloatArray
    """Physical CPU of each host (cores × MHz)."""
    host_ram: FloatArray
    power_models: tuple[PowerModel, ...]
    power_tables: FloatArray
    """Hosts × 11 watts at 0 %, 10 %, …, 100 % load."""
    sleep_w: FloatArray
    wake_latency_s: FloatArray
    vm_ids: tuple[str, ...]
    vm_mhz: FloatArray
    vm_ram: FloatArray

    @property
    def hosts(self) -> int:
        return len(self.host_ids)

    @property
    def vms(self) -> int:
        return len(self.vm_ids)


def _vm_types(sizes: VmSizes, names: tuple[str, ...]) -> npt.NDArray[np.intp]:
    """The index of each VM's type."""
    count, kinds = len(names), len(sizes.types)
    if sizes.assign == "cycle":
        chosen = np.arange(count) % kinds
    else:
        per_block = -(-count // kinds) if count else 1
        chosen = np.arange(count) // per_block
    index = {t.name: i for i, t in enumerate(sizes.types)}
    unknown = sorted(set(sizes.per_trace) - set(names))
    if unknown:
        raise InputError(f"per_trace names traces that are not in the trace set: {unknown[0]}")
    for row, name in enumerate(names):
        if name in sizes.per_trace:
            chosen[row] = index[sizes.per_trace[name]]
    out: npt.NDArray[np.intp] = chosen.astype(np.intp)
    return out


def build_datacenter(scenario: Scenario, traces: TraceSet) -> NativeDatacenter:
    """Hosts from ``scenario`` and one VM per trace of ``traces``."""
    dc = scenario.datacenter
    ids: list[str] = []
    mhz: list[float] = []
    ram: list[float] = []
    models: list[PowerModel] = []
    latency: list[float] = []
    for kind in dc.hosts:
        model = kind.power_model.build(kind.name)
        for n in range(kind.count):
            ids.append(f"{kind.name}-{n + 1:03d}")
            mhz.append(kind.cores * kind.core_mhz)
            ram.append(kind.ram_mb)
            models.append(model)
            latency.append(kind.wake_latency_s)
    types = _vm_types(dc.vms, traces.vm_names)
    vm_mhz = np.array([t.mhz for t in dc.vms.types])[types]
    vm_ram = np.array([t.ram_mb for t in dc.vms.types])[types]
    return NativeDatacenter(
        host_ids=tuple(ids),
        host_mhz=np.array(mhz),
        host_ram=np.array(ram),
        power_models=tuple(models),
        power_tables=np.array([power_table(m) for m in models], dtype=np.float64).reshape(-1, 11),
        sleep_w=np.array([m.sleep_w for m in models]),
        wake_latency_s=np.array(latency),
        vm_ids=tuple(traces.vm_names),
        vm_mhz=vm_mhz.astype(np.float64),
        vm_ram=vm_ram.astype(np.float64),
    )
