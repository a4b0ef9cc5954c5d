"""Unreachable and quarantined hosts in ``fleetwise hosts list|show`` and ``fleetwise
stats``: the agents of a real controller's hosts fall silent, one host is quarantined."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fleetwise.store.inventory import quarantine_hosts
from tests.helpers.admin_cli import AdminFleet, admin_fleet, fields
from tests.helpers.lab import eventually

LAYOUT = {"h1": {1: 500.0}, "h2": {2: 300.0}}
REASON = "migration 7 of VM 2 ended unknown"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminFleet]:
    """Both hosts unreachable (their agents registered and fell silent), h2 quarantined."""
    with admin_fleet(
        tmp_path_factory.mktemp("admin-cli-status"), LAYOUT, heartbeat_timeout_s=0.5
    ) as running:

        def unreachable() -> tuple[bool, ...]:
            return tuple(h["unreachable"] for h in running.api("GET", "/v1/hosts"))

        eventually(lambda: all(unreachable()), "hosts unreachable", progress=unreachable, steps=2)
        store = running.store()
        try:
            store.run(quarantine_hosts, ["h2"], REASON, now=datetime.now(UTC))
        finally:
            store.close()
        yield running


def test_hosts_list_says_which_hosts_are_unreachable_or_quarantined(fleet: AdminFleet) -> None:
    out = fleet.out("hosts", "list", columns=80)
    lines = out.splitlines()
    assert lines[0] == "2 hosts (2 unreachable, 1 quarantined)"
    statuses = {
        line.split()[0]: re.split(r"\s{2,}", line)[2] for line in lines if line[:2] in ("h1", "h2")
    }
    assert statuses == {"h1": "unreachable", "h2": "unreachable, quarantined"}


def test_hosts_show_gives_the_quarantine_reason(fleet: AdminFleet) -> None:
    out = fleet.out("hosts", "show", "h2")
    pairs = fields(out)
    assert {k: pairs[k] for k in ("status", "unreachable", "quarantined", "quarantine reason")} == {
        "status": "unreachable, quarantined",
        "unreachable": "yes",
        "quarantined": "yes",
        "quarantine reason": REASON,
    }
    body = fleet.json("hosts", "show", "h2")
    assert (body["unreachable"], body["quarantined"], body["quarantine_reason"]) == (
        True,
        True,
        REASON,
    )


def test_stats_counts_them(fleet: AdminFleet) -> None:
    body = fleet.json("stats")
    assert (body["hosts_unreachable"], body["hosts_quarantined"]) == (2, 1)
    pairs = fields(fleet.out("stats"))
    assert (pairs["hosts unreachable"], pairs["hosts quarantined"]) == ("2", "1")
