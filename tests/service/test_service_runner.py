"""ServiceRunner: lifecycle hooks, virtual-time runs, stop requests."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from typing import Any

import pytest

from fleetwise.errors import ParameterError
from fleetwise.service import Manager, RealClock, ServiceRunner, VirtualClock, periodic_task
from fleetwise.service.clock import Clock

DAY = 86_400.0


class Collector(Manager):
    """Samples every 300 s and records every hook call in a shared journal."""

    def __init__(self, clock: Clock, journal: list[str], label: str, **kwargs: Any) -> None:
        self.journal = journal
        self.label = label
        self.samples: list[float] = []
        super().__init__(clock, **kwargs)

    def init_host(self) -> None:
        self.journal.append(f"{self.label}.init_host")

    def pre_start(self) -> None:
        self.journal.append(f"{self.label}.pre_start")

    def post_start(self) -> None:
        self.journal.append(f"{self.label}.post_start")

    def stop(self) -> None:
        self.journal.append(f"{self.label}.stop")

    @periodic_task(spacing=300, run_immediately=True)
    def collect(self) -> None:
        self.samples.append(self.clock.now())


class Heartbeat(Manager):
    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        self.beats: list[float] = []
        super().__init__(clock, **kwargs)

    @periodic_task(spacing=7)
    def beat(self) -> None:
        self.beats.append(self.clock.now())


def test_hooks_run_in_order_and_stop_hooks_in_reverse() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    runner = ServiceRunner([Collector(clock, journal, "a"), Collector(clock, journal, "b")])
    runner.run_for(600)
    assert journal == [
        "a.init_host",
        "b.init_host",
        "a.pre_start",
        "b.pre_start",
        "a.post_start",
        "b.post_start",
    ]
    runner.run_for(600)  # already started: no second round of hooks
    runner.shutdown()
    runner.shutdown()  # idempotent
    assert journal[6:] == ["b.stop", "a.stop"]


def test_a_day_runs_instantly_and_exactly_on_a_virtual_clock() -> None:
    clock = VirtualClock()
    collector = Collector(clock, [], "c", jitter_fraction=0.0)
    heartbeat = Heartbeat(clock)
    runner = ServiceRunner([collector, heartbeat])
    began = time.monotonic()
    runner.run_for(DAY)
    assert time.monotonic() - began < 2.0
    assert clock.now() == DAY
    assert collector.samples == [300.0 * k for k in range(288)]
    assert heartbeat.beats == [7.0 * k for k in range(1, 12_343)]  # 7·12342 < DAY < 7·12343


def test_jittered_day_keeps_one_sample_per_slot_and_is_reproducible() -> None:
    def one_day(seed: int) -> list[float]:
        clock = VirtualClock()
        collector = Collector(clock, [], "c", rng=random.Random(seed))
        ServiceRunner([collector]).run_for(DAY)
        return collector.samples

    samples = one_day(5)
    assert len(samples) == 288
    assert all(300 * k <= t < 300 * k + 15 for k, t in enumerate(samples))
    assert samples == one_day(5)
    assert samples != one_day(6)


def test_run_for_pieces_add_up_to_one_long_run() -> None:
    def run(pieces: list[float]) -> tuple[list[float], list[float]]:
        clock = VirtualClock()
        collector, heartbeat = Collector(clock, [], "c", jitter_fraction=0.0), Heartbeat(clock)
        runner = ServiceRunner([collector, heartbeat])
        for piece in pieces:
            runner.run_for(piece)
        assert clock.now() == sum(pieces)
        return collector.samples, heartbeat.beats

    assert run([300.0] * 12) == run([3600.0]) == run([0.0, 7.0, 293.0, 0.5, 3299.5])


class SlowWorker(Manager):
    """Each run takes 4 virtual seconds; runs must still start on the 10-s grid."""

    def __init__(self, clock: VirtualClock) -> None:
        self.virtual_clock = clock
        self.starts: list[float] = []
        super().__init__(clock)

    @periodic_task(spacing=10, run_immediately=True)
    def work(self) -> None:
        self.starts.append(self.clock.now())
        self.virtual_clock.advance(4)


def test_time_spent_in_tasks_is_taken_off_the_sleep() -> None:
    clock = VirtualClock()
    worker = SlowWorker(clock)
    ServiceRunner([worker]).run_for(55)
    assert worker.starts == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


class SelfStopping(Collector):
    runner: ServiceRunner

    @periodic_task(spacing=60)
    def maybe_stop(self) -> None:
        if self.clock.now() >= 3600:
            self.runner.request_stop()


def test_run_returns_after_a_stop_request_and_runs_stop_hooks() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    manager = SelfStopping(clock, journal, "s", jitter_fraction=0.0)
    runner = ServiceRunner([manager])
    manager.runner = runner
    runner.run()
    assert runner.stop_requested
    assert clock.now() == 3600.0  # no sleep after the stop request
    assert journal[-1] == "s.stop"
    assert manager.samples == [300.0 * k for k in range(13)]
    with pytest.raises(RuntimeError, match="shut down"):
        runner.run_for(10)


class BrokenStart(Collector):
    def pre_start(self) -> None:
        super().pre_start()
        raise OSError("cannot reach the controller")


def test_a_failing_start_hook_stops_initialised_managers_and_propagates() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    runner = ServiceRunner([Collector(clock, journal, "ok"), BrokenStart(clock, journal, "bad")])
    with pytest.raises(OSError, match="controller"):
        runner.run()
    assert journal == [
        "ok.init_host",
        "bad.init_host",
        "ok.pre_start",
        "bad.pre_start",
        "bad.stop",
        "ok.stop",
    ]


class BrokenStop(Collector):
    def stop(self) -> None:
        super().stop()
        raise RuntimeError("stuck")


def test_a_failing_stop_hook_does_not_skip_the_others(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    journal: list[str] = []
    runner = ServiceRunner([Collector(clock, journal, "a"), BrokenStop(clock, journal, "b")])
    runner.run_for(1)
    with caplog.at_level(logging.ERROR, logger="fleetwise.service.manager"):
        runner.shutdown()
    assert journal[-2:] == ["b.stop", "a.stop"]
    assert any("BrokenStop" in r.getMessage() for r in caplog.records)


class Failing(Collector):
    @periodic_task(spacing=10)
    def explode(self) -> None:
        raise ValueError("bad sample")


def test_raise_on_error_stops_the_service_after_running_stop_hooks() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    runner = ServiceRunner([Failing(clock, journal, "f")], raise_on_error=True)
    with pytest.raises(ValueError, match="bad sample"):
        runner.run()
    assert clock.now() == 10.0
    assert journal[-1] == "f.stop"


def test_managers_must_exist_and_share_one_clock() -> None:
    with pytest.raises(ParameterError, match="at least one"):
        ServiceRunner([])
    with pytest.raises(ParameterError, match="one clock"):
        ServiceRunner([Heartbeat(VirtualClock()), Heartbeat(VirtualClock())])
    with pytest.raises(ParameterError, match="seconds"):
        ServiceRunner([Heartbeat(VirtualClock())]).run_for(-1)


def test_a_stop_request_wakes_a_real_time_sleep() -> None:
    runner = ServiceRunner([Heartbeat(RealClock(), max_idle=30.0)])
    thread = threading.Thread(target=runner.run)
    thread.start()
    time.sleep(0.1)
    began = time.monotonic()
    runner.request_stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - began < 1.0


class Signaller(Collector):
    @periodic_task(spacing=60)
    def raise_sigterm(self) -> None:
        signal.raise_signal(signal.SIGTERM)


@pytest.mark.timeout(10)
def test_signal_handlers_request_a_stop_and_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    clock = VirtualClock()
    journal: list[str] = []
    runner = ServiceRunner([Signaller(clock, journal, "s", jitter_fraction=0.0)])
    runner.install_signal_handlers()
    assert signal.getsignal(signal.SIGTERM) is not before
    runner.run()
    assert runner.stop_requested
    assert journal[-1] == "s.stop"
    assert clock.now() >= 60.0
    assert signal.getsignal(signal.SIGTERM) is before
