"""Migration concurrency caps: in total, out of one host and into one host."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from fleetwise.controller.config import MigrationCaps

__all__ = ["MigrationSlots"]


class MigrationSlots:
    """Counts running migrations and grants new ones only within the caps."""

    def __init__(self, caps: MigrationCaps, running: Iterable[tuple[str, str]] = ()) -> None:
        self._caps = caps
        self._total = 0
        self._out: Counter[str] = Counter()
        self._in: Counter[str] = Counter()
        for source, destination in running:
            self._add(source, destination)

    def _add(self, source: str, destination: str) -> None:
        self._total += 1
        self._out[source] += 1
        self._in[destination] += 1

    def can_start(self, source: str, destination: str) -> bool:
        """Whether one more migration from ``source`` to ``destination`` fits the caps."""
        return (
            self._total < self._caps.total
            and self._out[source] < self._caps.per_source
            and self._in[destination] < self._caps.per_destination
        )

    def take(self, source: str, destination: str) -> bool:
        """Book a slot if one is free; returns whether it was booked."""
        if not self.can_start(source, destination):
            return False
        self._add(source, destination)
        return True

    def release(self, source: str, destination: str) -> None:
        """Give back a slot booked by :meth:`take` (the migration did not start)."""
        if self._out[source] < 1 or self._in[destination] < 1:
            raise ValueError(f"no migration from {source} to {destination} is booked")
        self._total -= 1
        self._out[source] -= 1
        self._in[destination] -= 1
