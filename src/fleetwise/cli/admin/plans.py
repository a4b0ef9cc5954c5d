"""``fleetwise plans list|show|approve|cancel|skip``."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Group

from fleetwise.api.client import Call, Calls
from fleetwise.api.schemas import ActionOut, PlanOut
from fleetwise.cli.admin.command import admin_command, admin_group
from fleetwise.cli.admin.render import Column, Grid, count, fields, table, text, when

__all__ = ["plans_app"]

plans_app = admin_group("Inspect, approve, cancel plans and skip actions.")

PlanArgument = Annotated[int, typer.Argument(help="The plan's id.", show_default=False)]


def what(action: ActionOut) -> str:
    """The action and the hosts it acts on: ``migrate h1 → h2``, ``sleep h4`` or
    ``wake h4`` (the host a wake-up or sleep powers on or off)."""
    if action.kind == "migrate":
        return f"migrate {text(action.source)} → {text(action.destination)}"
    return f"{action.kind} {text(action.host)}"


def _summary(plan: PlanOut) -> str:
    kinds = Counter(a.kind for a in plan.actions)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "-"


def plans_table(plans: list[PlanOut]) -> Grid:
    columns = (
        Column("id", "id", right=True),
        Column("state", "word"),
        Column("mode", "word"),
        Column("reason"),
        Column("created", "word"),
        Column("actions"),
    )
    rows = [(str(p.id), p.state, p.mode, p.reason, when(p.created_at), _summary(p)) for p in plans]
    return table(count(len(plans), "plan"), columns, rows)


def actions_table(actions: list[ActionOut]) -> Grid:
    columns = (
        Column("id", "id", right=True),
        Column("action"),
        Column("VM", "id"),
        Column("state", "word"),
        Column("attempts", "id", right=True),
        Column("last error"),
    )
    rows = [
        (str(a.id), what(a), text(a.vm_uuid), a.state, str(a.attempts), text(a.last_error))
        for a in actions
    ]
    return table(count(len(actions), "action"), columns, rows)


def plan_view(plan: PlanOut) -> Group:
    about = fields(
        f"plan {plan.id}",
        [
            ("state", plan.state),
            ("mode", plan.mode),
            ("reason", plan.reason),
            ("created", when(plan.created_at)),
            ("expires", when(plan.expires_at)),
            ("actions", _summary(plan)),
        ],
    )
    return Group(about, actions_table(plan.actions))


def plan_line(plan: PlanOut) -> str:
    return f"plan {plan.id}: {plan.state}"


def action_line(action: ActionOut) -> str:
    return f"action {action.id} ({what(action)}): {action.state}"


@admin_command(plans_app, "list", plans_table)
def plans_list(
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only plans in this state (repeat for more).", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="At most this many (the controller: 100).", show_default=False),
    ] = None,
) -> Call[list[PlanOut]]:
    """Plans, newest first: state, mode, reason, when created, actions by kind."""
    return Calls.plans(state, limit)


@admin_command(plans_app, "show", plan_view)
def plans_show(plan_id: PlanArgument) -> Call[PlanOut]:
    """One plan with every action: what, VM, state, attempts, last error.

    A migration shows its source → destination, a wake-up or sleep its host.
    """
    return Calls.plan(plan_id)


@admin_command(plans_app, "approve", plan_line)
def plans_approve(plan_id: PlanArgument) -> Call[PlanOut]:
    """Start a recommended plan."""
    return Calls.approve(plan_id)


@admin_command(plans_app, "cancel", plan_line)
def plans_cancel(plan_id: PlanArgument) -> Call[PlanOut]:
    """Cancel a plan; actions not started are cancelled too."""
    return Calls.cancel(plan_id)


@admin_command(plans_app, "skip", action_line)
def plans_skip(
    action_id: Annotated[int, typer.Argument(help="The action's id.", show_default=False)],
) -> Call[ActionOut]:
    """Skip one pending action of a plan."""
    return Calls.skip(action_id)
