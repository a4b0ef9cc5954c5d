"""Small builders shared by the store tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete

from fleetwise.core.lifecycle import VmState
from fleetwise.store.models import Base
from fleetwise.store.records import HostSpec, ReportedVm

__all__ = ["T0", "at", "host_spec", "vm_report", "vm_uuid", "wipe"]

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def vm_uuid(n: int) -> str:
    """A readable, valid UUID for VM number ``n``."""
    return str(uuid.UUID(int=n))


def host_spec(name: str, *, cores: int = 8, ram_mb: int = 32768) -> HostSpec:
    """An ordinary host called ``name``."""
    return HostSpec(name, cores, 2400, cores * 2400, ram_mb)


def vm_report(n: int, state: VmState = VmState.RUNNING, ram_mb: int = 1024) -> ReportedVm:
    """A report of VM number ``n``."""
    return ReportedVm(vm_uuid(n), state, ram_mb, 1, 2400)


def wipe(engine: Engine) -> None:
    """Delete every row of every table, children first."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
