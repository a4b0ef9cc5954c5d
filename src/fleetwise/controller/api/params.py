"""Path and query parameters the routes share, with the patterns the schema publishes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from fleetwise.api.schemas import Timestamp
from fleetwise.ids import HOST_NAME_PATTERN, VM_UUID_PATTERN

__all__ = [
    "ActionId",
    "HostInPath",
    "HostInQuery",
    "Limit",
    "MigrationId",
    "PlanId",
    "SinceInQuery",
    "VmInPath",
    "VmInQuery",
]

_ID_MAX = 2**62

HostInPath = Annotated[str, Path(pattern=HOST_NAME_PATTERN, description="the host's name")]
HostInQuery = Annotated[
    str | None, Query(pattern=HOST_NAME_PATTERN, description="only this host's")
]
VmInPath = Annotated[str, Path(pattern=VM_UUID_PATTERN, description="the VM's UUID")]
VmInQuery = Annotated[str | None, Query(pattern=VM_UUID_PATTERN, description="only this VM's")]
SinceInQuery = Annotated[
    Timestamp | None, Query(description="at or after this moment (with its UTC offset)")
]
PlanId = Annotated[int, Path(ge=1, le=_ID_MAX, description="the plan's id")]
MigrationId = Annotated[int, Path(ge=1, le=_ID_MAX, description="the migration's id")]
ActionId = Annotated[int, Path(ge=1, le=_ID_MAX, description="the action's id")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="at most this many")]
