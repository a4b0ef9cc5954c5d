"""The agent's connection to the controller: one client, and back-off at two levels.

Each kind of request (a *stream*: registration, samples, reallocation, ...) backs off
on its own failures, so a failing endpoint is not hammered while the others work.
Over that, the link as a whole backs off when a request fails, so a controller that is
down gets one probe per back-off step from each agent, not one per stream; any request
that gets through reopens the link.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from fleetwise.agent.backoff import Backoff
from fleetwise.agent.client import ControllerClient, ControllerUnavailableError
from fleetwise.service.clock import WallClock

__all__ = ["BackingOffError", "ControllerLink"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BackingOffError(Exception):
    """The back-off does not allow this request yet (nothing was sent)."""


class ControllerLink:
    """Sends requests through ``client`` while the back-off allows it; thread-safe."""

    def __init__(
        self, client: ControllerClient, clock: WallClock, new_backoff: Callable[[], Backoff]
    ) -> None:
        self.client = client
        self._clock = clock
        self._new_backoff = new_backoff
        self._link = new_backoff()
        self._streams: dict[str, Backoff] = {}
        self._lock = threading.Lock()

    def _stream(self, name: str) -> Backoff:
        backoff = self._streams.get(name)
        if backoff is None:
            backoff = self._streams[name] = self._new_backoff()
        return backoff

    def ready(self, stream: str) -> bool:
        """Whether a request of ``stream`` may be sent now."""
        now = self._clock.now()
        with self._lock:
            return self._link.ready(now) and self._stream(stream).ready(now)

    def call(self, stream: str, request: Callable[[ControllerClient], T]) -> T:
        """Run ``request`` as part of ``stream``.

        Raises BackingOffError (nothing sent) while backing off, and
        ControllerUnavailableError when the request fails.
        """
        if not self.ready(stream):
            raise BackingOffError(stream)
        try:
            result = request(self.client)
        except ControllerUnavailableError as exc:
            now = self._clock.now()
            with self._lock:
                self._link.failed(now)
                backoff = self._stream(stream)
                delay = backoff.failed(now)
                first = backoff.failures == 1
            log = logger.warning if first else logger.debug
            log("%s failed (%s); next attempt in %.1f s", stream, exc, delay)
            raise
        with self._lock:
            if self._link.failures:
                logger.info("controller reachable again")
            self._link.succeeded()
            self._stream(stream).succeeded()
        return result
