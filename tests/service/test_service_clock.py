"""Real and virtual clocks."""

from __future__ import annotations

import threading
import time

import pytest

from fleetwise.errors import ParameterError
from fleetwise.service import RealClock, VirtualClock


def test_virtual_clock_moves_only_when_told() -> None:
    clock = VirtualClock(100.0, epoch=1_700_000_000.0)
    assert clock.now() == 100.0
    assert clock.advance(2.5) == 102.5
    assert clock.sleep(7.5) is False
    assert clock.now() == 110.0
    assert clock.wall() == 1_700_000_010.0


def test_virtual_sleep_with_stop_set_returns_at_once() -> None:
    clock = VirtualClock()
    stop = threading.Event()
    assert clock.sleep(5.0, stop) is False
    stop.set()
    assert clock.sleep(5.0, stop) is True
    assert clock.now() == 5.0


def test_virtual_sleep_treats_negative_as_zero() -> None:
    clock = VirtualClock(3.0)
    clock.sleep(-1.0)
    assert clock.now() == 3.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_virtual_clock_rejects_bad_advance(bad: float) -> None:
    clock = VirtualClock(1.0)
    with pytest.raises(ParameterError):
        clock.advance(bad)
    assert clock.now() == 1.0


def test_real_sleep_wakes_when_stop_is_set() -> None:
    clock = RealClock()
    stop = threading.Event()
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    began = clock.now()
    woke_early = clock.sleep(5.0, stop)
    elapsed = clock.now() - began
    timer.join()
    assert woke_early is True
    assert elapsed < 1.0


def test_real_sleep_waits_the_full_time_without_stop() -> None:
    clock = RealClock()
    began = time.monotonic()
    assert clock.sleep(0.05, threading.Event()) is False
    assert clock.sleep(0.02) is False
    assert time.monotonic() - began >= 0.07
    assert abs(clock.wall() - time.time()) < 1.0
