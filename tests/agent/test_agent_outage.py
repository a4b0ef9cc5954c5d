"""An agent whose hypervisor is unreachable (its host asleep) does not flood the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fleetwise.errors import DriverError
from fleetwise.service.clock import VirtualClock
from tests.helpers.agent import (
    VM1,
    FakeController,
    config_for,
    make_agent,
    trace_vm,
    two_host_fleet,
)


def test_an_unreachable_hypervisor_is_logged_once_per_doubling_then_on_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock(epoch=1_700_000_000.0)
    fleet = two_host_fleet(clock)
    fleet.add_vm("a", trace_vm(VM1, [0.5]))
    agent = make_agent(config_for(tmp_path), fleet, clock, FakeController())
    working = agent.collector.collect

    def asleep() -> None:
        raise DriverError("host a is not reachable (power asleep)")

    monkeypatch.setattr(agent.collector, "collect", asleep)
    with caplog.at_level(logging.INFO, logger="fleetwise.agent.service"):
        for _ in range(40):
            agent.collect()
            agent.heartbeat()
        monkeypatch.setattr(agent.collector, "collect", working)
        agent.collect()
    collection = [r for r in caplog.records if r.getMessage().startswith("collection")]
    # 1 in full, reminders at 2, 4, 8, 16 and 32 failures, 1 on recovery: not 40 lines
    assert [r.levelno for r in collection] == (
        [logging.ERROR] + [logging.WARNING] * 5 + [logging.INFO]
    )
    assert "not reachable" in collection[0].getMessage()
    assert collection[-1].getMessage() == "collection works again after 40 failure(s)"
