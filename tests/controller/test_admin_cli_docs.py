"""docs/cli.md is the admin commands' contract: every command is listed with the JSON it
prints, and every JSON field is named exactly as the API's schemas name it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from fleetwise.api import schemas
from fleetwise.cli.main import load_subcommand

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
ADMIN_GROUPS = ("hosts", "vms", "plans", "migrations")


def admin_commands() -> dict[str, Any]:
    """``"hosts list"`` → its click command, for every admin command."""
    found = {"stats": load_subcommand("stats")}
    for group in ADMIN_GROUPS:
        for name, command in load_subcommand(group).commands.items():
            found[f"{group} {name}"] = command
    return found


def documented_fields() -> dict[str, list[str]]:
    """Schema name → the fields its table in "JSON fields" lists, in order."""
    section = DOC.split("\n## JSON fields\n", 1)[1]
    tables: dict[str, list[str]] = {}
    for part in section.split("\n### ")[1:]:
        name, body = part.split("\n", 1)
        tables[name.strip()] = re.findall(r"^\| `(\w+)` \|", body, flags=re.MULTILINE)
    return tables


def command_rows() -> dict[str, str]:
    """Command → the schema its row in the commands table links to."""
    rows = re.findall(r"^\| `([a-z]+(?: [a-z]+)?)[^`]*` \| `[A-Z]+ /v1[^|]*\| ([^|]+)\|", DOC, re.M)
    return {command: re.findall(r"\(#(\w+)\)", answer)[0] for command, answer in rows}


def test_every_admin_command_is_documented_with_its_json() -> None:
    rows = command_rows()
    assert set(rows) == set(admin_commands())
    tables = {name.lower(): name for name in documented_fields()}
    assert set(rows.values()) <= set(tables)


@pytest.mark.parametrize("command", sorted(admin_commands()))
def test_every_admin_command_takes_json(command: str) -> None:
    options = {opt for param in admin_commands()[command].params for opt in param.opts}
    assert {"--json", "--url", "--token", "--token-file"} <= options


@pytest.mark.parametrize(
    "schema",
    [
        schemas.HostOut,
        schemas.VmOut,
        schemas.PlanOut,
        schemas.ActionOut,
        schemas.MigrationOut,
        schemas.Evacuation,
        schemas.FleetStats,
    ],
)
def test_json_fields_are_named_as_the_api_names_them(schema: type[BaseModel]) -> None:
    assert documented_fields()[schema.__name__] == list(schema.model_fields)
