"""The controller and the native simulator decide alike: one scripted fleet through both.

The script covers every rule of a round: a stale request, a duplicate one, a host
mid-migration, a waking host, a maintenance drain, an overload and an underload, a
round held back by an open plan, and idle hosts put to sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fleetwise.core.round import RequestOutcome
from tests.helpers.controller import HarnessFactory, vm_uuid
from tests.helpers.round_contract import (
    ControllerShell,
    NativeShell,
    RoundSummary,
    Shell,
)

ROUND_SPACING_S = 60.0
PLACEMENT = {1: "h1", 2: "h1", 3: "h1", 4: "h1", 5: "h2", 6: "h3", 7: "h5", 8: "h6"}
BUSY = {1: 1900.0, 2: 1800.0, 3: 1700.0, 4: 1600.0, 5: 300.0, 6: 100.0, 7: 500.0, 8: 2000.0}
QUIET = {n: 150.0 for n in PLACEMENT} | {8: 2000.0}


def script(shell: Shell) -> Iterator[RoundSummary]:
    """The fleet's story; yields each round's decision."""
    shell.samples(BUSY)
    shell.request("h1", "underload")  # goes stale before the first round
    shell.advance(100)
    shell.samples(BUSY)
    shell.maintenance("h2", True)
    shell.waking("h4")
    shell.start_migration(7, "h5", "h6")
    shell.request("h1", "overload", (1, 2))
    shell.request("h3", "underload")  # superseded by the next one
    shell.advance(1)
    shell.request("h3", "underload")
    shell.request("h5", "underload")  # h5 is in a migration
    yield shell.round()
    shell.advance(ROUND_SPACING_S)
    shell.request("h6", "overload", (8,))
    yield shell.round()  # the first plan is still open
    shell.cancel_plan()
    shell.finish_migration(7)
    shell.woken("h4")
    shell.maintenance("h2", False)
    shell.advance(ROUND_SPACING_S)
    shell.samples(QUIET)
    shell.samples(QUIET)
    shell.request("h3", "underload")
    shell.request("h5", "underload")
    yield shell.round()
    shell.cancel_plan()
    shell.advance(ROUND_SPACING_S)
    yield shell.round()  # no requests: idle hosts go to sleep


@pytest.fixture
def controller(make_harness: HarnessFactory) -> ControllerShell:
    return ControllerShell(make_harness(plan_round_spacing_s=ROUND_SPACING_S), PLACEMENT)


def test_both_shells_make_the_same_decision_in_every_round(controller: ControllerShell) -> None:
    live = list(script(controller))
    simulated = list(script(NativeShell(PLACEMENT, ROUND_SPACING_S)))
    assert len(live) == 4
    for number, (a, b) in enumerate(zip(live, simulated, strict=True), start=1):
        assert a == b, f"round {number} differs"


def test_the_script_exercises_every_rule(controller: ControllerShell) -> None:
    first, held, third, idle = script(controller)
    outcomes = {outcome for _, _, outcome in first.verdicts}
    assert outcomes >= {
        RequestOutcome.STALE,
        RequestOutcome.DUPLICATE,
        RequestOutcome.HOST_UNAVAILABLE,
        RequestOutcome.PLANNED,
    }
    assert set(first.excluded) == {"h4", "h5", "h6"}  # waking, and both ends of a migration
    assert first.drained == ("h2",)
    assert any(vm == vm_uuid(5) and src == "h2" for vm, src, _ in first.migrations)
    assert held.waiting and [o for _, _, o in held.verdicts] == [RequestOutcome.WAITING]
    assert not held.migrations
    assert third.migrations and not third.excluded
    assert idle.sleep and not idle.migrations


Check = Callable[[RoundSummary], bool]
