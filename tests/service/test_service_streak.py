"""Failure streaks: the log grows with the logarithm of an outage, not its length."""

from __future__ import annotations

import logging

import pytest

from fleetwise.service import FailureStreak

LOGGER = logging.getLogger("fleetwise.test.streak")


def _levels(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records]


def test_a_long_outage_logs_once_per_doubling_and_once_on_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    streak = FailureStreak(LOGGER, "heartbeat")
    with caplog.at_level(logging.DEBUG, logger=LOGGER.name):
        for _ in range(100):
            streak.failed(ConnectionError("refused"))
        streak.succeeded()
        streak.succeeded()
    levels = [level for level, _ in _levels(caplog)]
    # 1st in full; reminders at 2, 4, 8, 16, 32, 64; one recovery line
    assert levels == [logging.ERROR] + [logging.WARNING] * 6 + [logging.INFO]
    messages = [m for _, m in _levels(caplog)]
    assert messages[0] == "heartbeat failed: ConnectionError: refused"
    assert "64 times in a row" in messages[6]
    assert messages[-1] == "heartbeat works again after 100 failure(s)"
    assert not any(r.exc_info for r in caplog.records)


def test_a_different_error_is_logged_in_full_and_traceback_is_optional(
    caplog: pytest.LogCaptureFixture,
) -> None:
    streak = FailureStreak(LOGGER, "sync", traceback=True)
    with caplog.at_level(logging.DEBUG, logger=LOGGER.name):
        for error in (OSError("disk"), OSError("disk"), OSError("disk"), ValueError("bad")):
            try:
                raise error
            except Exception as exc:
                streak.failed(exc)
    records = caplog.records
    assert [r.levelno for r in records] == [logging.ERROR, logging.WARNING, logging.ERROR]
    assert records[0].exc_info is not None and records[0].exc_info[0] is OSError
    assert records[2].exc_info is not None and records[2].exc_info[0] is ValueError
    assert streak.count == 4


def test_success_without_a_streak_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    streak = FailureStreak(LOGGER, "collect")
    with caplog.at_level(logging.DEBUG, logger=LOGGER.name):
        streak.succeeded()
    assert caplog.records == []
