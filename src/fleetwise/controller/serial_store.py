"""The store as the controller uses it: on SQLite, writers of this process take turns.

SQLite admits one writer at a time; a second one waits in SQLite's busy handler,
which sleeps in growing steps (up to tens of milliseconds) and so turns short lock
waits into long request latencies. Queueing the writing transactions on a lock in
the process first makes them wait exactly as long as needed. Reads never wait
(WAL mode), and PostgreSQL needs no such lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleetwise.store import Store

__all__ = ["SerialStore"]

P = ParamSpec("P")
R = TypeVar("R")


class SerialStore(Store):
    """A :class:`~fleetwise.store.Store` whose writing transactions take turns on SQLite."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        sqlite = engine.dialect.name == "sqlite"
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if sqlite else nullcontext()
        )

    def run(
        self,
        operation: Callable[Concatenate[Session, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        with self._writers:
            return super().run(operation, *args, **kwargs)
