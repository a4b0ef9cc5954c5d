"""The simulated power driver: wake latency, lost wake-ups."""

from __future__ import annotations

import pytest

from fleetwise.drivers.clock import ManualClock
from fleetwise.drivers.power.base import PowerState
from fleetwise.drivers.power.simulated import SimulatedPowerDriver
from fleetwise.errors import DriverError, ParameterError


def make() -> tuple[ManualClock, SimulatedPowerDriver]:
    clock = ManualClock()
    driver = SimulatedPowerDriver(
        clock, {"a": PowerState.ON, "b": PowerState.OFF}, wake_latency_s=45.0
    )
    return clock, driver


def test_host_comes_up_after_the_wake_latency() -> None:
    clock, power = make()
    power.wake("b")
    clock.advance(44.9)
    assert power.status("b") is PowerState.OFF
    clock.advance(0.1)
    assert power.status("b") is PowerState.ON


def test_sleep_is_immediate_and_wake_of_awake_host_is_harmless() -> None:
    _clock, power = make()
    power.wake("a")
    assert power.status("a") is PowerState.ON
    power.sleep("a")
    assert power.status("a") is PowerState.OFF


def test_lost_wakeups() -> None:
    clock, power = make()
    power.fail_next_wakes("b", 1)
    power.wake("b")
    clock.advance(100.0)
    assert power.status("b") is PowerState.OFF
    power.wake("b")
    clock.advance(45.0)
    assert power.status("b") is PowerState.ON


def test_cannot_sleep_a_waking_host() -> None:
    _clock, power = make()
    power.wake("b")
    with pytest.raises(DriverError, match="still waking"):
        power.sleep("b")


def test_unknown_host_and_bad_settings() -> None:
    clock, power = make()
    with pytest.raises(ParameterError):
        power.status("c")
    with pytest.raises(ParameterError):
        SimulatedPowerDriver(clock, {"a": PowerState.UNKNOWN})
    with pytest.raises(ParameterError):
        SimulatedPowerDriver(clock, {}, wake_latency_s=-1)
