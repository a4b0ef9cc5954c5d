"""How the lab configures its fleet, controller and agents for a given speed-up.

Agents collect once per trace step of simulated time (300 s, the PlanetLab sampling
step), that is every ``300 / speedup`` real seconds; they send heartbeats every
5 real seconds and ask for assignments every second, whatever the speed-up. The
controller plans every 2 s and runs its executor twice a second; its time-outs are
real seconds, stretched where the simulated durations they cover would not fit.
"""

from __future__ import annotations

from typing import Any

from fleetwise.agent.sim_fleet import TRACE_SAMPLE_S, VM_TYPES, FleetPlan
from fleetwise.demo.cluster import ClusterSettings
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.record import LabShape

__all__ = [
    "ACTIVE_W",
    "ASLEEP_W",
    "agent_settings",
    "cluster_settings",
    "controller_settings",
    "fleet_plan",
    "host_names",
]

ACTIVE_W = 200.0
ASLEEP_W = 10.0
"""The controller's energy model: watts of an awake (or waking) and of a sleeping host."""

HEARTBEAT_S = 5.0
ASSIGNMENT_POLL_S = 1.0
DELIVERY_S = 1.0
WAKE_LATENCY_S = 60.0
"""Simulated seconds a host takes to wake up."""


def host_names(shape: LabShape) -> list[str]:
    """``host1`` … ``hostN``."""
    return [f"host{i + 1}" for i in range(shape.hosts)]


def fleet_plan(shape: LabShape) -> FleetPlan:
    """The simulated fleet of ``shape``."""
    return FleetPlan(
        hosts=shape.hosts,
        vms=shape.vms,
        day=shape.day,
        speedup=shape.speedup,
        ram_mb=shape.ram_mb,
        wake_latency_s=WAKE_LATENCY_S,
    )


def agent_settings(speedup: float) -> dict[str, Any]:
    """What every agent's configuration sets (real seconds)."""
    return {
        "intervals": {
            "collect_s": TRACE_SAMPLE_S / speedup,
            "heartbeat_s": HEARTBEAT_S,
            "assignment_poll_s": ASSIGNMENT_POLL_S,
            "delivery_s": DELIVERY_S,
        },
        "history_length": 30,
        "http": {"backoff_initial_s": 0.5, "backoff_max_s": 5.0, "progress_every_s": 1.0},
    }


def controller_settings(shape: LabShape) -> dict[str, Any]:
    """What the controller's configuration sets (real seconds)."""
    speedup = shape.speedup
    longest_migration_s = max(ram for _, ram in VM_TYPES) / fleet_plan(shape).bandwidth_mb_s
    return {
        "plan_round_spacing_s": 2.0,
        "executor_spacing_s": 0.5,
        "staleness_window_s": max(30.0, 3 * TRACE_SAMPLE_S / speedup),
        "heartbeat_timeout_s": 6 * HEARTBEAT_S,
        "wake_timeout_s": max(60.0, 3 * WAKE_LATENCY_S / speedup),
        "migration_timeout_s": max(120.0, 4 * longest_migration_s / speedup),
        "metrics": {
            "energy": {"active_w": ACTIVE_W, "asleep_w": ASLEEP_W, "transition_w": ACTIVE_W}
        },
    }


def cluster_settings(shape: LabShape, paths: LabPaths) -> ClusterSettings:
    """The controller and agents of the lab in ``paths``."""
    return ClusterSettings(
        fleet_path=paths.fleet,
        hosts=host_names(shape),
        state_dir=paths.root,
        controller=controller_settings(shape),
        agent=agent_settings(shape.speedup),
    )
