"""Managers and the runner that drives them.

A :class:`Manager` owns one job of a service (collecting, deciding, syncing): its periodic
tasks and its lifecycle hooks. Drivers do the implementation-specific work for it. A
:class:`ServiceRunner` runs one or more managers that share a clock:

1. ``init_host()`` on each manager (local set-up: drivers, persisted state);
2. ``pre_start()`` on each (every manager is initialised; announce to peers);
3. ``post_start()`` on each (everything is up; periodic work begins next);
4. loop: run the due periodic tasks of every manager, then sleep on the clock until the next
   task is due or a stop is requested;
5. ``stop()`` on each started manager, in reverse order.

A stop request (``request_stop()``, or SIGTERM/SIGINT once ``install_signal_handlers()`` was
called) lets the running task finish, starts no further task, runs the ``stop()`` hooks and
returns. With a :class:`~fleetwise.service.clock.VirtualClock`, ``run_for(seconds)`` covers
the half-open interval ``[now, now + seconds)`` instantly and deterministically.
"""

from __future__ import annotations

import enum
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any

from fleetwise.errors import ParameterError
from fleetwise.service.clock import Clock
from fleetwise.service.periodic import PeriodicTasks

__all__ = ["Manager", "ServiceRunner"]

logger = logging.getLogger(__name__)

_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class Manager(PeriodicTasks):
    """Base of every manager: periodic tasks plus lifecycle hooks (all no-ops by default)."""

    def init_host(self) -> None:
        """Set up local resources before any manager of the service starts."""

    def pre_start(self) -> None:
        """Run once every manager is initialised, before periodic work begins."""

    def post_start(self) -> None:
        """Run once the whole service is up; the first periodic pass follows."""

    def stop(self) -> None:
        """Release resources; called once when the service stops."""


class _State(enum.Enum):
    NEW = "new"
    STARTED = "started"
    STOPPED = "stopped"


class ServiceRunner:
    """Run managers that share one clock until stopped (or for a span of time)."""

    def __init__(self, managers: Sequence[Manager], *, raise_on_error: bool = False) -> None:
        if not managers:
            raise ParameterError("a service needs at least one manager")
        clock = managers[0].clock
        if any(manager.clock is not clock for manager in managers):
            raise ParameterError("all managers of a service must share one clock")
        self.clock: Clock = clock
        self._managers = tuple(managers)
        self._raise_on_error = raise_on_error
        self._stop = threading.Event()
        self._state = _State.NEW
        self._initialised: list[Manager] = []
        self._saved_handlers: dict[int, _SignalHandler] = {}

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask the loop to stop after the running task; safe from any thread."""
        self._stop.set()

    def install_signal_handlers(
        self, signums: Iterable[int] = (signal.SIGTERM, signal.SIGINT)
    ) -> None:
        """Turn the given signals into a stop request (main thread only).

        The previous handlers come back when the runner shuts down.
        """
        for signum in signums:
            previous = signal.signal(signum, self._on_signal)
            self._saved_handlers.setdefault(signum, previous)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The interrupted code may hold the event's internal lock, so set it from a helper
        # thread instead of here; logging moves there too.
        def stop_from_signal() -> None:
            logger.info("received %s; stopping after the running task", signal.Signals(signum).name)
            self._stop.set()

        threading.Thread(target=stop_from_signal, name="fleetwise-signal", daemon=True).start()

    def start(self) -> None:
        """Call the start hooks of every manager (once); on failure shut down and re-raise."""
        if self._state is _State.STARTED:
            return
        if self._state is _State.STOPPED:
            raise RuntimeError("service runner was already shut down")
        self._state = _State.STARTED
        try:
            for manager in self._managers:
                manager.init_host()
                self._initialised.append(manager)
            for manager in self._managers:
                manager.pre_start()
            for manager in self._managers:
                manager.post_start()
        except BaseException:
            self.shutdown()
            raise
        logger.info(
            "service started: %s", ", ".join(type(manager).__name__ for manager in self._managers)
        )

    def run(self) -> None:
        """Start, run periodic tasks until a stop is requested, then shut down."""
        self.start()
        try:
            self._loop(deadline=None)
        finally:
            self.shutdown()

    def run_for(self, seconds: float) -> None:
        """Start if needed and run tasks due in ``[now, now + seconds)``; stay started.

        Returns at the deadline (the clock reads exactly ``now + seconds`` with a virtual
        clock) or earlier if a stop is requested. Call :meth:`shutdown` when done.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ParameterError(f"run_for needs a finite number of seconds >= 0, got {seconds!r}")
        self.start()
        self._loop(deadline=self.clock.now() + seconds)

    def shutdown(self) -> None:
        """Call ``stop()`` on every initialised manager in reverse order (once)."""
        if self._state is _State.STOPPED:
            return
        self._state = _State.STOPPED
        self._stop.set()
        for manager in reversed(self._initialised):
            try:
                manager.stop()
            except Exception:
                logger.exception("stop hook of %s failed", type(manager).__name__)
        self._restore_signal_handlers()
        logger.info("service stopped")

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._saved_handlers.items():
            if previous is not None:
                signal.signal(signum, previous)
        self._saved_handlers.clear()

    def _loop(self, deadline: float | None) -> None:
        clock = self.clock
        while not self._stop.is_set():
            started = clock.now()
            if deadline is not None and started >= deadline:
                return
            idle = min(
                [
                    manager.run_periodic_tasks(
                        started, stop=self._stop, raise_on_error=self._raise_on_error
                    )
                    for manager in self._managers
                ]
            )
            wait = idle - (clock.now() - started)
            if deadline is not None:
                wait = min(wait, deadline - clock.now())
            clock.sleep(max(0.0, wait), self._stop)
