"""What the native model measures while time passes: load, service, energy, overload.

Between two events demand is constant. A host's load is the demand of its VMs plus
``degradation`` × the demand of each VM migrating in (the copy's cost); when the
load exceeds the host's CPU every VM on it gets the same fraction of its demand. A
migrating VM also loses ``degradation`` of its demand (the performance degradation
due to migration, PDM). Awake hosts draw power by load, hosts waking up or going to
sleep their idle power, sleeping hosts their sleep power. SLATAH counts the time
hosts are at 100 %; AOTF the time they are above the agents' overload threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetwise.core.lifecycle import HostPowerState
from fleetwise.core.power import interpolate_tables
from fleetwise.core.types import FloatArray

__all__ = ["ACTIVE", "ASLEEP", "GOING_TO_SLEEP", "HOST_POWER", "WAKING", "FleetMeter"]

HOST_POWER: tuple[HostPowerState, ...] = tuple(HostPowerState)
"""Host power states by code (the index used in the power-state array)."""
ACTIVE = HOST_POWER.index(HostPowerState.ACTIVE)
GOING_TO_SLEEP = HOST_POWER.index(HostPowerState.GOING_TO_SLEEP)
ASLEEP = HOST_POWER.index(HostPowerState.ASLEEP)
WAKING = HOST_POWER.index(HostPowerState.WAKING)

IntArray = npt.NDArray[np.intp]


@dataclass
class FleetMeter:
    """Integrals over time of the fleet's figures (seconds, MHz·s, W·s)."""

    host_mhz: FloatArray
    power_tables: FloatArray
    sleep_w: FloatArray
    degradation: float
    hot_fraction: float = 1.0
    """A host above this fraction of its CPU counts as overloaded for AOTF."""
    energy_ws: float = 0.0
    demand: float = 0.0
    served: float = 0.0
    shortfall: float = 0.0
    host_busy: FloatArray = field(init=False)
    host_over: FloatArray = field(init=False)
    host_hot: FloatArray = field(init=False)
    host_awake: FloatArray = field(init=False)
    host_asleep: FloatArray = field(init=False)
    vm_demand: FloatArray = field(init=False)
    vm_shortfall: FloatArray = field(init=False)
    interval_served: FloatArray = field(init=False)
    """MHz·s each VM got since the last collection."""

    def __post_init__(self) -> None:
        hosts = self.host_mhz.size
        self.host_busy = np.zeros(hosts)
        self.host_over = np.zeros(hosts)
        self.host_hot = np.zeros(hosts)
        self.host_awake = np.zeros(hosts)
        self.host_asleep = np.zeros(hosts)
        self.vm_demand = np.zeros(0)
        self.vm_shortfall = np.zeros(0)
        self.interval_served = np.zeros(0)

    def start(self, vms: int) -> None:
        """Size the per-VM integrals."""
        self.vm_demand = np.zeros(vms)
        self.vm_shortfall = np.zeros(vms)
        self.interval_served = np.zeros(vms)

    def account(
        self,
        dt: float,
        demand: FloatArray,
        vm_host: IntArray,
        moving_to: IntArray,
        power: IntArray,
    ) -> float:
        """Account ``dt`` seconds at constant ``demand``; returns the watts drawn."""
        hosts = self.host_mhz.size
        load = np.bincount(vm_host, demand, minlength=hosts)
        moving = moving_to >= 0
        any_moving = bool(moving.any())
        if any_moving:
            load += np.bincount(
                moving_to[moving], self.degradation * demand[moving], minlength=hosts
            )
        over_capacity = load > self.host_mhz
        if over_capacity.any():
            share = np.minimum(
                1.0, np.divide(self.host_mhz, load, out=np.ones(hosts), where=load > 0)
            )
            served = demand * share[vm_host]
        else:
            served = demand  # every VM gets what it asks for
        awake = power == ACTIVE
        asleep = power == ASLEEP
        utilisation = np.minimum(load / self.host_mhz, 1.0)
        watts = np.where(
            awake,
            interpolate_tables(self.power_tables, utilisation),
            np.where(asleep, self.sleep_w, self.power_tables[:, 0]),
        )
        drawn = float(watts.sum())
        self.energy_ws += drawn * dt
        busy = awake & (load > 0)
        self.host_busy[busy] += dt
        self.host_over[busy & over_capacity] += dt
        self.host_hot[awake & (load > self.hot_fraction * self.host_mhz)] += dt
        self.host_awake[~asleep] += dt
        self.host_asleep[asleep] += dt
        self.demand += float(demand.sum()) * dt
        self.served += float(served.sum()) * dt
        self.vm_demand += demand * dt
        self.interval_served += served * dt
        if any_moving:
            lost = self.degradation * demand[moving] * dt
            self.shortfall += float(lost.sum())
            self.vm_shortfall[moving] += lost
        return drawn

    def collect(self, interval_s: float) -> FloatArray:
        """Each VM's mean MHz since the last collection (what a collector measures)."""
        mean: FloatArray = self.interval_served / interval_s
        self.interval_served = np.zeros_like(self.interval_served)
        return mean
