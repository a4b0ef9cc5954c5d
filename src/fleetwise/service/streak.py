"""Logging of repeated failures without flooding: one line per doubling of a streak.

A service retrying something every few seconds during an outage would write the same
error at every attempt. :class:`FailureStreak` counts failures in a row; it logs the
first in full, and any failure whose error (type and message) differs from the
previous one; a repeat of the same error only as a one-line reminder when the count
reaches 2, 4, 8, …; and one line when the thing works again. Errors whose message
changes at every attempt (a timing, a port) are logged each time.
"""

from __future__ import annotations

import logging

__all__ = ["FailureStreak"]


class FailureStreak:
    """Consecutive failures of one activity (``what``), logged on ``logger``."""

    def __init__(self, logger: logging.Logger, what: str, *, traceback: bool = False) -> None:
        self.logger = logger
        self.what = what
        self.traceback = traceback
        self.count = 0
        self._error = ""

    def failed(self, exc: BaseException) -> None:
        """Record a failure: in full if its error is new, as a reminder if the streak doubled."""
        error = f"{type(exc).__name__}: {exc}"
        self.count += 1
        if error != self._error:
            self._error = error
            self.logger.error("%s failed: %s", self.what, error, exc_info=self.traceback)
        elif self.count & (self.count - 1) == 0:
            self.logger.warning(
                "%s still failing (%d times in a row): %s", self.what, self.count, error
            )

    def succeeded(self) -> None:
        """Record a success, closing the streak if there was one."""
        if self.count:
            self.logger.info("%s works again after %d failure(s)", self.what, self.count)
            self.count = 0
            self._error = ""
