"""Periodic-task scheduling, driven by hand with a virtual clock."""

from __future__ import annotations

import functools
import logging
import math
import random
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwise import service
from fleetwise.errors import ParameterError
from fleetwise.service import PeriodicTasks, VirtualClock, periodic_task
from fleetwise.service.clock import Clock


class Recorder(PeriodicTasks):
    """Base for test managers: remembers (task, time) for every run."""

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        self.runs: list[tuple[str, float]] = []
        super().__init__(clock, **kwargs)

    def note(self, task: str) -> None:
        self.runs.append((task, self.clock.now()))

    def times(self, task: str) -> list[float]:
        return [t for name, t in self.runs if name == task]


def drive(manager: PeriodicTasks, clock: VirtualClock, until: float, step: float) -> None:
    """Call the runner every ``step`` seconds up to and including ``until``."""
    while True:
        manager.run_periodic_tasks()
        if clock.now() + step > until:
            return
        clock.advance(step)


class Every10(Recorder):
    @periodic_task(spacing=10)
    def tick(self) -> None:
        self.note("tick")


def test_spacing_is_honoured_exactly() -> None:
    clock = VirtualClock()
    manager = Every10(clock)
    drive(manager, clock, until=100, step=1)
    assert manager.times("tick") == [10.0 * k for k in range(1, 11)]


def test_first_run_is_one_spacing_after_the_manager_is_created() -> None:
    clock = VirtualClock(1000.0)
    clock.advance(500)  # time passing before creation must not count
    manager = Every10(clock)
    assert manager.run_periodic_tasks() == 10.0
    clock.advance(9.5)
    manager.run_periodic_tasks()
    assert manager.runs == []
    clock.advance(0.5)
    manager.run_periodic_tasks()
    assert manager.times("tick") == [1510.0]


class Defaults(Recorder):
    @periodic_task
    def bare(self) -> None:
        self.note("bare")

    @periodic_task(spacing=0)
    def zero(self) -> None:
        self.note("zero")


def test_missing_or_zero_spacing_means_sixty_seconds() -> None:
    clock = VirtualClock()
    manager = Defaults(clock, jitter_fraction=0.0)
    assert [(s.name, s.spacing, s.next_due) for s in manager.periodic_schedule()] == [
        ("bare", 60.0, 60.0),
        ("zero", 60.0, 60.0),
    ]
    drive(manager, clock, until=180, step=1)
    assert manager.times("bare") == manager.times("zero") == [60.0, 120.0, 180.0]


class Immediate(Recorder):
    @periodic_task(spacing=15, run_immediately=True)
    def now(self) -> None:
        self.note("now")


def test_run_immediately_runs_on_the_first_call_then_keeps_spacing() -> None:
    clock = VirtualClock()
    manager = Immediate(clock)
    clock.advance(4)  # e.g. start-up work after the manager was created
    drive(manager, clock, until=40, step=1)
    assert manager.times("now") == [4.0, 19.0, 34.0]


class Switched(Recorder):
    @periodic_task(spacing=5, enabled=False)
    def disabled(self) -> None:
        self.note("disabled")

    @periodic_task(spacing=-5, run_immediately=True)
    def negative(self) -> None:
        self.note("negative")

    @periodic_task(spacing=5)
    def active(self) -> None:
        self.note("active")


def test_disabled_and_negative_tasks_never_run(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    with caplog.at_level(logging.INFO, logger="fleetwise.service.periodic"):
        manager = Switched(clock)
    assert [s.name for s in manager.periodic_schedule()] == ["active"]
    drive(manager, clock, until=60, step=1)
    assert {name for name, _ in manager.runs} == {"active"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("Switched.disabled" in m and "disabled" in m for m in messages)
    assert any("Switched.negative" in m and "negative spacing" in m for m in messages)


class Flaky(Recorder):
    @periodic_task(spacing=10)
    def first(self) -> None:
        self.note("first")

    @periodic_task(spacing=10)
    def broken(self) -> None:
        self.note("broken")
        raise RuntimeError("disk on fire")

    @periodic_task(spacing=10)
    def last(self) -> None:
        self.note("last")


def test_a_failing_task_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    manager = Flaky(clock)
    with caplog.at_level(logging.INFO, logger="fleetwise.service.periodic"):
        drive(manager, clock, until=30, step=10)
    assert [name for name, _ in manager.runs] == ["first", "broken", "last"] * 3
    # The first failure carries the traceback; a repeat is one line, at the 2nd, 4th, … run.
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in failures] == [logging.ERROR, logging.WARNING]
    assert all("Flaky.broken" in r.getMessage() for r in failures)
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is RuntimeError
    assert failures[1].exc_info is None
    assert "2 times in a row" in failures[1].getMessage()
    assert "RuntimeError: disk on fire" in failures[1].getMessage()


class Outage(Recorder):
    """Fails while ``errors`` holds messages, one per run."""

    def __init__(self, clock: Clock, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(clock)

    @periodic_task(spacing=10)
    def sync(self) -> None:
        self.note("sync")
        if self.errors:
            raise ConnectionError(self.errors.pop(0))


def test_a_new_error_gets_a_traceback_and_recovery_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    manager = Outage(clock, ["db down", "db down", "db refused", "db refused"])
    with caplog.at_level(logging.INFO, logger="fleetwise.service.periodic"):
        drive(manager, clock, until=60, step=10)
    records = [(r.levelno, r.exc_info is not None) for r in caplog.records]
    assert records == [
        (logging.ERROR, True),  # db down
        (logging.WARNING, False),  # db down again
        (logging.ERROR, True),  # a different error
        (logging.WARNING, False),
        (logging.INFO, False),  # recovered
    ]
    assert "works again after 4 failure(s)" in caplog.records[-1].getMessage()
    caplog.clear()
    manager.errors.append("db down")
    with caplog.at_level(logging.INFO, logger="fleetwise.service.periodic"):
        drive(manager, clock, until=80, step=10)
    # after a recovery the same error is new again
    first = caplog.records[0]
    assert first.levelno == logging.ERROR and first.exc_info is not None


def test_raise_on_error_propagates_and_still_advances_the_schedule() -> None:
    manager = Flaky(VirtualClock())
    with pytest.raises(RuntimeError, match="disk on fire"):
        manager.run_periodic_tasks(10.0, raise_on_error=True)
    assert [name for name, _ in manager.runs] == ["first", "broken"]
    assert [s.next_due for s in manager.periodic_schedule()] == [20.0, 20.0, 10.0]


class Jittery(Recorder):
    @periodic_task(spacing=100)
    def slow(self) -> None:
        self.note("slow")

    @periodic_task(spacing=19.5)
    def fast(self) -> None:
        self.note("fast")


def jittered_schedule(seed: int, fraction: float = 0.05) -> list[float]:
    """Due times of the 100-s task over 100 slots (the 19.5-s task must stay unjittered)."""
    clock = VirtualClock()
    manager = Jittery(clock, rng=random.Random(seed), jitter_fraction=fraction)
    due: list[float] = [manager.periodic_schedule()[0].next_due]
    while clock.now() < 10_000:
        clock.advance(manager.run_periodic_tasks())
        if manager.periodic_schedule()[0].next_due != due[-1]:
            due.append(manager.periodic_schedule()[0].next_due)
    assert manager.times("fast") == [19.5 * k for k in range(1, 513)]
    assert manager.times("slow") == due[:-1]  # sleeping the idle time hits each due exactly
    return due


@pytest.mark.parametrize("fraction", [0.05, 0.3])
def test_jitter_stays_in_bounds_and_never_shifts_the_grid(fraction: float) -> None:
    due = jittered_schedule(seed=3, fraction=fraction)
    assert len(due) == 100  # one run per slot: jitter does not accumulate
    offsets = [t - 100 * k for k, t in enumerate(due, start=1)]
    assert all(0 <= offset < fraction * 100 for offset in offsets)
    assert max(offsets) > 0.8 * fraction * 100  # the whole range is used
    assert min(offsets) < 0.2 * fraction * 100
    assert len(set(offsets)) == 100


def test_jitter_is_reproducible_for_a_seed() -> None:
    assert jittered_schedule(seed=11) == jittered_schedule(seed=11)
    assert jittered_schedule(seed=11) != jittered_schedule(seed=12)


class Minutely(Recorder):
    @periodic_task(spacing=60)
    def minute(self) -> None:
        self.note("minute")


def test_a_late_run_is_aligned_to_the_latest_past_boundary() -> None:
    clock = VirtualClock()
    manager = Minutely(clock, jitter_fraction=0.0)
    clock.advance(150)  # runs due at 60 and 120 were missed
    assert manager.run_periodic_tasks() == 30.0  # next boundary is 180, not 210
    clock.advance(30)
    manager.run_periodic_tasks()
    clock.advance(59.9)
    manager.run_periodic_tasks()
    clock.advance(0.1)
    manager.run_periodic_tasks()
    assert manager.times("minute") == pytest.approx([150.0, 180.0, 240.0])


class TwoSpeeds(Recorder):
    @periodic_task(spacing=10)
    def ten(self) -> None:
        self.note("ten")

    @periodic_task(spacing=25)
    def twenty_five(self) -> None:
        self.note("twenty_five")


def test_idle_time_is_the_time_to_the_next_due_task() -> None:
    manager = TwoSpeeds(VirtualClock(), jitter_fraction=0.0)
    assert manager.run_periodic_tasks(0.0) == 10.0
    assert manager.run_periodic_tasks(4.0) == 6.0
    assert manager.run_periodic_tasks(10.0) == 10.0  # "ten" ran; next is at 20
    assert manager.run_periodic_tasks(20.0) == 5.0  # "twenty_five" at 25 is nearest
    assert manager.run_periodic_tasks(26.0) == 4.0  # both ran late: 30 and 50 next


def test_idle_time_is_capped_and_never_negative() -> None:
    manager = Minutely(VirtualClock(), jitter_fraction=0.0, max_idle=7.0)
    assert manager.run_periodic_tasks(0.0) == 7.0
    assert manager.idle_time(-100.0) == 7.0
    assert manager.idle_time(1000.0) == 0.0
    empty = PeriodicTasks(VirtualClock(), max_idle=42.0)
    assert empty.run_periodic_tasks() == 42.0


class Parent(Recorder):
    @periodic_task(spacing=10)
    def collect(self) -> None:
        self.note("parent.collect")

    @periodic_task(spacing=10)
    def report(self) -> None:
        self.note("report")


class Child(Parent):
    def collect(self) -> None:  # undecorated override: parent's schedule, child's code
        self.note("child.collect")

    @periodic_task(spacing=20, enabled=False)
    def report(self) -> None:
        self.note("child.report")

    @periodic_task(spacing=5)
    def heartbeat(self) -> None:
        self.note("heartbeat")


class GrandChild(Child):
    @periodic_task(spacing=30, name="reap")
    def reap_old_records(self) -> None:
        self.note("reap")


def test_subclasses_add_and_override_tasks_without_touching_the_parent() -> None:
    parent = Parent(VirtualClock())
    child = Child(VirtualClock())
    grandchild = GrandChild(VirtualClock())
    assert [s.name for s in parent.periodic_schedule()] == ["collect", "report"]
    assert [s.name for s in child.periodic_schedule()] == ["collect", "heartbeat"]
    assert [(s.name, s.spacing) for s in grandchild.periodic_schedule()] == [
        ("collect", 10.0),
        ("heartbeat", 5.0),
        ("reap", 30.0),
    ]
    for manager in (parent, child, grandchild):
        manager.run_periodic_tasks(40.0)
    assert [name for name, _ in parent.runs] == ["parent.collect", "report"]
    assert [name for name, _ in child.runs] == ["child.collect", "heartbeat"]
    assert [name for name, _ in grandchild.runs] == ["child.collect", "heartbeat", "reap"]


def test_tasks_added_at_run_time_belong_to_one_manager() -> None:
    clock = VirtualClock()
    manager = Every10(clock)
    other = Every10(clock)
    clock.advance(3)
    assert manager.add_periodic_task(lambda: manager.note("sync"), spacing=4, name="sync")
    assert not manager.add_periodic_task(lambda: manager.note("off"), name="off", enabled=False)
    assert not manager.add_periodic_task(lambda: manager.note("neg"), name="neg", spacing=-1)
    with pytest.raises(ParameterError, match="used twice"):
        manager.add_periodic_task(lambda: None, name="tick")
    drive(manager, clock, until=20, step=1)
    assert [name for name, _ in manager.runs] == ["sync", "tick", "sync", "sync", "sync", "tick"]
    assert manager.times("sync") == [7.0, 11.0, 15.0, 19.0]
    assert [s.name for s in other.periodic_schedule()] == ["tick"]


def test_add_periodic_task_names_default_to_the_callable_name() -> None:
    manager = Every10(VirtualClock())

    def sweep() -> None:
        manager.note("sweep")

    assert manager.add_periodic_task(sweep, run_immediately=True)
    manager.run_periodic_tasks()
    assert manager.runs == [("sweep", 0.0)]


STOP = threading.Event()


class Stopping(Recorder):
    @periodic_task(spacing=10)
    def before(self) -> None:
        self.note("before")

    @periodic_task(spacing=10)
    def stopper(self) -> None:
        self.note("stopper")
        STOP.set()

    @periodic_task(spacing=10)
    def after(self) -> None:
        self.note("after")


def test_a_stop_request_starts_no_further_task_and_leaves_it_due() -> None:
    STOP.clear()
    manager = Stopping(VirtualClock())
    assert manager.run_periodic_tasks(10.0, stop=STOP) == 0.0  # "after" is still due
    assert [name for name, _ in manager.runs] == ["before", "stopper"]
    STOP.clear()
    assert manager.run_periodic_tasks(10.0) == 10.0
    assert [name for name, _ in manager.runs] == ["before", "stopper", "after"]


@pytest.mark.parametrize("spacing", ["10", float("nan"), float("inf"), True])
def test_bad_spacing_is_rejected_when_declared(spacing: Any) -> None:
    with pytest.raises(ParameterError, match="spacing"):
        periodic_task(spacing=spacing)


def test_bad_names_and_manager_options_are_rejected() -> None:
    with pytest.raises(ParameterError, match="name"):
        periodic_task(name="")
    with pytest.raises(ParameterError, match="jitter_fraction"):
        Every10(VirtualClock(), jitter_fraction=1.0)
    with pytest.raises(ParameterError, match="max_idle"):
        Every10(VirtualClock(), max_idle=0.0)


def test_duplicate_declared_names_are_rejected() -> None:
    class Clash(Recorder):
        @periodic_task(name="sync")
        def one(self) -> None: ...

        @periodic_task(name="sync")
        def two(self) -> None: ...

    with pytest.raises(ParameterError, match="'sync' is used twice in Clash"):
        Clash(VirtualClock())


def test_decorated_methods_stay_callable() -> None:
    manager = Every10(VirtualClock())
    manager.tick()
    assert manager.runs == [("tick", 0.0)]


def test_public_names_are_pinned() -> None:
    assert sorted(service.__all__) == sorted(
        [
            "Clock",
            "FailureStreak",
            "DEFAULT_JITTER_FRACTION",
            "DEFAULT_MAX_IDLE",
            "DEFAULT_SPACING",
            "MIN_JITTER_SPACING",
            "Manager",
            "PeriodicTaskSpec",
            "PeriodicTasks",
            "RealClock",
            "ServiceRunner",
            "TaskSchedule",
            "VirtualClock",
            "periodic_task",
        ]
    )
    assert all(hasattr(service, name) for name in service.__all__)


@settings(max_examples=200, deadline=None)
@given(
    spacings=st.lists(st.floats(min_value=0.5, max_value=500), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.floats(min_value=0.0, max_value=700), min_size=1, max_size=40),
)
def test_schedule_invariants(spacings: list[float], seed: int, steps: list[float]) -> None:
    """Over any irregular sequence of calls: one run per grid slot at most, never early,
    and sleeping exactly the returned idle time always lands on a due task (unless capped)."""
    clock = VirtualClock()
    manager = Recorder(clock, rng=random.Random(seed), max_idle=300.0)
    for i, spacing in enumerate(spacings):
        name = f"t{i}"
        manager.add_periodic_task(functools.partial(manager.note, name), spacing=spacing, name=name)
    for step in steps:
        clock.advance(step)
        idle = manager.run_periodic_tasks()
        assert 0.0 < idle <= 300.0
        due = min(s.next_due for s in manager.periodic_schedule())
        assert idle == 300.0 or math.isclose(clock.now() + idle, due)
    for i, spacing in enumerate(spacings):
        runs = manager.times(f"t{i}")
        assert len(runs) <= math.floor(clock.now() / spacing + 1e-9)
        for k, t in enumerate(runs, start=1):
            assert t >= k * spacing * (1 - 1e-12)
