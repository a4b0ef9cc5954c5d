"""``fleetwise hosts evacuate`` and ``fleetwise plans …`` on a drain plan of a real
controller process; the tests run in order on one fleet (evacuate, show, skip, approve,
cancel)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.admin_cli import AdminFleet, admin_fleet, one_error_line
from tests.helpers.controller import vm_uuid
from tests.helpers.lab import eventually

LAYOUT = {"h1": {1: 500.0, 2: 300.0}, "h2": {3: 900.0}, "h3": {4: 700.0}, "h4": {}}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminFleet]:
    with admin_fleet(
        tmp_path_factory.mktemp("admin-cli-plans"), LAYOUT, executor_spacing_s=0.2
    ) as running:
        yield running


def drain_plan(fleet: AdminFleet) -> dict[str, Any]:
    """The plan draining h1 (the first plan of this fleet)."""
    plans = fleet.api("GET", "/v1/plans")
    found: dict[str, Any] = next(p for p in plans if p["reason"] == "maintenance of h1")
    return found


def action_row(action: dict[str, Any]) -> str:
    """The pattern of an action's row in ``plans show`` (a terminal wide enough)."""
    if action["kind"] == "migrate":
        what = f"migrate {action['source']} → {action['destination']}"
    else:
        what = f"{action['kind']} {action['host']}"
    return (
        rf"\s*{action['id']}  {re.escape(what)}\s+{action['vm_uuid'] or '-'}\s+"
        rf"{action['state']}\s+{action['attempts']}\s+{re.escape(action['last_error'] or '-')}"
    )


def test_evacuate_creates_a_drain_plan(fleet: AdminFleet) -> None:
    out = fleet.out("hosts", "evacuate", "h1")
    match = re.fullmatch(r"h1: maintenance on; plan (\d+) drains it\n", out)
    assert match is not None, out
    plan = fleet.api("GET", f"/v1/plans/{match[1]}")
    assert (plan["reason"], plan["state"]) == ("maintenance of h1", "recommended")
    moves = {(a["vm_uuid"], a["source"]) for a in plan["actions"] if a["kind"] == "migrate"}
    assert moves == {(vm_uuid(1), "h1"), (vm_uuid(2), "h1")}

    again = fleet.json("hosts", "evacuate", "h1")
    assert (again["plan_id"], again["waiting"], again["host"]["maintenance"]) == (None, True, True)
    waiting = fleet.out("hosts", "evacuate", "h3")
    assert waiting == (
        "h3: maintenance on; no plan drains its 1 VM yet (an open plan holds the drain back, "
        "or it fits on no other host now); every round tries again\n"
    )
    fleet.api("POST", "/v1/hosts/h3/maintenance", {"on": False})


def test_plans_show_names_the_hosts_of_every_action(fleet: AdminFleet) -> None:
    plan = drain_plan(fleet)
    kinds = sorted(a["kind"] for a in plan["actions"])
    assert kinds == ["migrate", "migrate", "sleep"]  # the idle h4 goes to sleep
    out = fleet.out("plans", "show", str(plan["id"]))
    lines = out.splitlines()
    assert lines[0].strip() == f"plan {plan['id']}"
    assert "actions   2 migrate, 1 sleep" in out
    assert "3 actions" in lines
    for action in plan["actions"]:
        assert any(re.fullmatch(action_row(action), line.rstrip()) for line in lines), action
    (sleep,) = [a for a in plan["actions"] if a["kind"] == "sleep"]
    assert sleep["host"] == "h4"

    narrow = fleet.out("plans", "show", str(plan["id"]), columns=80)
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    assert all(any(vm_uuid(n) in line for line in narrow.splitlines()) for n in (1, 2))
    assert fleet.json("plans", "show", str(plan["id"])) == fleet.api(
        "GET", f"/v1/plans/{plan['id']}"
    )


def test_plans_list_shows_the_plan(fleet: AdminFleet) -> None:
    plan = drain_plan(fleet)
    out = fleet.out("plans", "list", "--state", "recommended")
    assert out.splitlines()[0].strip() == "1 plan"
    cells = re.split(r"\s{2,}", out.splitlines()[-1].strip())
    assert cells[:4] == [str(plan["id"]), "recommended", "recommend", "maintenance of h1"]
    assert cells[5] == "2 migrate, 1 sleep"
    assert fleet.json("plans", "list", "--limit", "1") == fleet.api("GET", "/v1/plans?limit=1")


def test_skip_and_approve(fleet: AdminFleet) -> None:
    plan = drain_plan(fleet)
    (second,) = [a for a in plan["actions"] if a["vm_uuid"] == vm_uuid(2)]
    skipped = fleet.out("plans", "skip", str(second["id"]))
    assert skipped == f"action {second['id']} (migrate h1 → {second['destination']}): skipped\n"
    assert fleet.json("plans", "approve", str(plan["id"]))["state"] == "pending"

    def states() -> tuple[str, ...]:
        found = fleet.api("GET", f"/v1/plans/{plan['id']}")
        return (found["state"], *(a["state"] for a in found["actions"]))

    eventually(lambda: states()[0] == "ongoing", "the plan starts", progress=states, steps=5)
    again = fleet.cli("plans", "approve", str(plan["id"]))
    assert "409" in one_error_line(again, 2)


def test_cancel_ends_the_plan(fleet: AdminFleet) -> None:
    plan = drain_plan(fleet)
    out = fleet.out("plans", "cancel", str(plan["id"]))
    assert out == f"plan {plan['id']}: cancelled\n"
    assert fleet.api("GET", f"/v1/plans/{plan['id']}")["state"] == "cancelled"
