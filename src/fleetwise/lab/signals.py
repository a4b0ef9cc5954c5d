"""SIGINT and SIGTERM while the lab starts or stops processes."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["interrupt", "route_signals"]


def interrupt(signum: int, frame: FrameType | None) -> None:
    """A signal handler that raises KeyboardInterrupt (so SIGTERM cleans up like Ctrl-C)."""
    raise KeyboardInterrupt


@contextmanager
def route_signals(handler: Any) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` (main thread only) and restore them after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)
