"""Service frame: clocks, periodic tasks, managers and the runner that drives them."""

from fleetwise.service.clock import Clock, RealClock, VirtualClock
from fleetwise.service.manager import Manager, ServiceRunner
from fleetwise.service.periodic import (
    DEFAULT_JITTER_FRACTION,
    DEFAULT_MAX_IDLE,
    DEFAULT_SPACING,
    MIN_JITTER_SPACING,
    PeriodicTasks,
    PeriodicTaskSpec,
    TaskSchedule,
    periodic_task,
)
from fleetwise.service.streak import FailureStreak

__all__ = [
    "DEFAULT_JITTER_FRACTION",
    "DEFAULT_MAX_IDLE",
    "DEFAULT_SPACING",
    "MIN_JITTER_SPACING",
    "Clock",
    "FailureStreak",
    "Manager",
    "PeriodicTaskSpec",
    "PeriodicTasks",
    "RealClock",
    "ServiceRunner",
    "TaskSchedule",
    "VirtualClock",
    "periodic_task",
]
