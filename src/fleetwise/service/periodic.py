"""Periodic tasks: a decorator for manager methods and the machinery that runs them on time.

Schedule of one task with spacing ``s``:

* The schedule starts when the manager is created (``clock.now()`` in ``__init__``), not when
  the module is imported. Without ``run_immediately`` the first run is due one spacing later;
  with it, the first :meth:`PeriodicTasks.run_periodic_tasks` call runs the task and its grid
  starts at that run.
* Runs sit on a fixed grid ``origin + k·s``. A run records the latest grid point not after
  ``now`` (so a late run keeps the cadence and missed runs are skipped, not caught up), and the
  next run is due one spacing after that point plus a jitter drawn uniformly from
  ``[0, jitter_fraction·s)``. Jitter delays single runs but never shifts the grid, so the long-run
  rate is exactly one run per spacing. Spacings under 20 s get no jitter.
* ``spacing`` ``None`` or ``0`` means 60 s; a negative spacing or ``enabled=False`` leaves the
  task unregistered (logged at INFO when the manager is created).
* Due tasks run in definition order (parent class first, then subclass, then tasks added with
  :meth:`PeriodicTasks.add_periodic_task`). An exception in one task is logged with its name and
  the others still run; ``raise_on_error=True`` re-raises instead. ``KeyboardInterrupt`` and
  ``SystemExit`` always propagate. Repeated failures of a task are logged as a
  :class:`~fleetwise.service.streak.FailureStreak`: a new error with its traceback, the
  same error again only at the 2nd, 4th, 8th, … run in a row, and the recovery in one
  line, so an outage of a peer cannot flood the log.

Tasks are called with no arguments (``self`` aside) and their return value is ignored. A
subclass may redefine a task: a decorated redefinition replaces the parent's schedule, an
undecorated one runs on the parent's schedule. The parent class is never changed.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar, overload

from fleetwise.errors import ParameterError
from fleetwise.service.clock import Clock
from fleetwise.service.streak import FailureStreak

__all__ = [
    "DEFAULT_JITTER_FRACTION",
    "DEFAULT_MAX_IDLE",
    "DEFAULT_SPACING",
    "MIN_JITTER_SPACING",
    "PeriodicTaskSpec",
    "PeriodicTasks",
    "TaskSchedule",
    "periodic_task",
]

DEFAULT_SPACING: Final = 60.0
DEFAULT_JITTER_FRACTION: Final = 0.05
MIN_JITTER_SPACING: Final = 20.0
DEFAULT_MAX_IDLE: Final = 60.0

_MARK: Final = "_fleetwise_periodic_spec"

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PeriodicTaskSpec:
    """How a task was declared; ``spacing`` is as given (``None``, 0 and negatives included)."""

    name: str | None
    spacing: float | None
    run_immediately: bool = False
    enabled: bool = True

    def __post_init__(self) -> None:
        spacing = self.spacing
        if spacing is not None and (
            isinstance(spacing, bool)
            or not isinstance(spacing, int | float)
            or not math.isfinite(spacing)
        ):
            raise ParameterError(
                f"periodic task spacing must be a finite number of seconds, got {spacing!r}"
            )
        if self.name is not None and not (isinstance(self.name, str) and self.name):
            raise ParameterError(
                f"periodic task name must be a non-empty string, got {self.name!r}"
            )


@dataclass(frozen=True)
class TaskSchedule:
    """Snapshot of one registered task: its effective spacing and when it is next due."""

    name: str
    spacing: float
    next_due: float


@dataclass
class _Scheduled:
    name: str
    spacing: float
    call: Callable[[], object]
    origin: float | None  # grid origin; None until the first run of a run_immediately task
    period: int  # grid index of the last run (0 before the first one)
    next_due: float
    failures: FailureStreak | None = None


@overload
def periodic_task(func: F, /) -> F: ...


@overload
def periodic_task(
    *,
    spacing: float | None = None,
    run_immediately: bool = False,
    enabled: bool = True,
    name: str | None = None,
) -> Callable[[F], F]: ...


def periodic_task(
    func: F | None = None,
    /,
    *,
    spacing: float | None = None,
    run_immediately: bool = False,
    enabled: bool = True,
    name: str | None = None,
) -> F | Callable[[F], F]:
    """Mark a method of a :class:`PeriodicTasks` subclass as a periodic task.

    Usable bare (``@periodic_task``, every 60 s) or with options. The method is returned
    unchanged, so it can still be called directly.
    """
    spec = PeriodicTaskSpec(
        name=name, spacing=spacing, run_immediately=run_immediately, enabled=enabled
    )

    def mark(f: F) -> F:
        setattr(f, _MARK, spec)
        return f

    return mark if func is None else mark(func)


def _declared_spec(value: object) -> PeriodicTaskSpec | None:
    spec = getattr(value, _MARK, None)
    return spec if isinstance(spec, PeriodicTaskSpec) else None


class PeriodicTasks:
    """Base class that collects ``@periodic_task`` methods and runs them when due.

    ``rng`` draws the jitter (pass a seeded ``random.Random`` for reproducible runs);
    ``max_idle`` caps the idle time :meth:`run_periodic_tasks` returns.
    """

    _periodic_declared: ClassVar[tuple[tuple[str, PeriodicTaskSpec], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, PeriodicTaskSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                spec = _declared_spec(value)
                if spec is not None:
                    declared[attr] = spec
        cls._periodic_declared = tuple(declared.items())

    def __init__(
        self,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        jitter_fraction: float = DEFAULT_JITTER_FRACTION,
        max_idle: float = DEFAULT_MAX_IDLE,
    ) -> None:
        if not 0.0 <= jitter_fraction < 1.0:
            raise ParameterError(f"jitter_fraction must be in [0, 1), got {jitter_fraction!r}")
        if not (math.isfinite(max_idle) and max_idle > 0):
            raise ParameterError(f"max_idle must be a finite number > 0, got {max_idle!r}")
        self.clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._jitter_fraction = jitter_fraction
        self._max_idle = max_idle
        self._tasks: list[_Scheduled] = []
        for attr, spec in self._periodic_declared:
            self._register(spec, spec.name or attr, getattr(self, attr))

    def add_periodic_task(
        self,
        task: Callable[[], object],
        *,
        spacing: float | None = None,
        run_immediately: bool = False,
        enabled: bool = True,
        name: str | None = None,
    ) -> bool:
        """Register a callable at run time, scheduled from now; ``False`` if left unregistered.

        The name defaults to the callable's ``__name__``; names must be unique per manager.
        """
        spec = PeriodicTaskSpec(
            name=name, spacing=spacing, run_immediately=run_immediately, enabled=enabled
        )
        task_name = spec.name or getattr(task, "__name__", None)
        if not isinstance(task_name, str):
            raise ParameterError("periodic task needs a name: the callable has no __name__")
        return self._register(spec, task_name, task)

    def _register(self, spec: PeriodicTaskSpec, name: str, call: Callable[[], object]) -> bool:
        owner = type(self).__name__
        if not spec.enabled:
            logger.info("periodic task %s.%s is disabled; not registered", owner, name)
            return False
        if spec.spacing is not None and spec.spacing < 0:
            logger.info(
                "periodic task %s.%s has negative spacing %s; not registered",
                owner,
                name,
                spec.spacing,
            )
            return False
        if any(task.name == name for task in self._tasks):
            raise ParameterError(f"periodic task name {name!r} is used twice in {owner}")
        spacing = float(spec.spacing or DEFAULT_SPACING)
        now = self.clock.now()
        if spec.run_immediately:
            task = _Scheduled(name, spacing, call, origin=None, period=0, next_due=-math.inf)
        else:
            next_due = now + spacing + self._jitter(spacing)
            task = _Scheduled(name, spacing, call, origin=now, period=0, next_due=next_due)
        self._tasks.append(task)
        return True

    def _jitter(self, spacing: float) -> float:
        if spacing < MIN_JITTER_SPACING or self._jitter_fraction == 0.0:
            return 0.0
        limit = self._jitter_fraction * spacing
        return min(self._rng.random() * limit, math.nextafter(limit, 0.0))

    def periodic_schedule(self) -> tuple[TaskSchedule, ...]:
        """The registered tasks in run order, with their spacing and next due time."""
        return tuple(TaskSchedule(t.name, t.spacing, t.next_due) for t in self._tasks)

    def run_periodic_tasks(
        self,
        now: float | None = None,
        *,
        stop: threading.Event | None = None,
        raise_on_error: bool = False,
    ) -> float:
        """Run every task due at ``now`` (default ``clock.now()``); return the idle time.

        The idle time is how long after ``now`` the caller may sleep before the next task is
        due, capped at ``max_idle``. If ``stop`` gets set, no further task starts in this pass.
        """
        if now is None:
            now = self.clock.now()
        for task in tuple(self._tasks):
            if stop is not None and stop.is_set():
                break
            if now < task.next_due:
                continue
            self._mark_run(task, now)
            logger.debug("running periodic task %s.%s", type(self).__name__, task.name)
            try:
                task.call()
            except Exception as exc:
                if raise_on_error:
                    raise
                if task.failures is None:
                    what = f"periodic task {type(self).__name__}.{task.name}"
                    task.failures = FailureStreak(logger, what, traceback=True)
                task.failures.failed(exc)
            else:
                if task.failures is not None:
                    task.failures.succeeded()
        return self.idle_time(now)

    def idle_time(self, now: float) -> float:
        """Seconds from ``now`` until the next task is due, in ``[0, max_idle]``."""
        next_due = min((task.next_due for task in self._tasks), default=math.inf)
        return min(self._max_idle, max(0.0, next_due - now))

    def _mark_run(self, task: _Scheduled, now: float) -> None:
        if task.origin is None:
            task.origin = now
        else:
            latest = math.floor((now - task.origin) / task.spacing)
            task.period = max(task.period + 1, latest)
        next_boundary = task.origin + (task.period + 1) * task.spacing
        task.next_due = next_boundary + self._jitter(task.spacing)
