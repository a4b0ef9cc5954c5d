"""What agents report: registrations, heartbeats with VM lists, collected samples.

Each function is one transaction's work: a registration with its complete VM report
and heartbeat commit or roll back together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from fleetwise.errors import ConflictError
from fleetwise.ids import check_vm_uuid
from fleetwise.store.coltypes import require_utc
from fleetwise.store.inventory import (
    get_host,
    record_heartbeat,
    record_overload_state,
    register_host,
    report_vms,
)
from fleetwise.store.lookup import chunks, host_by_name, insert_ignoring_duplicates
from fleetwise.store.models import (
    HostSampleRow,
    VmRow,
    VmSampleRow,
)
from fleetwise.store.records import HostSpec, ReportedVm
from fleetwise.store.views import (
    HostView,
    ReportOutcome,
)

__all__ = [
    "ingest_samples",
    "record_agent_report",
    "register_agent",
]


def register_agent(
    session: Session, spec: HostSpec, vms: Sequence[ReportedVm], *, now: datetime
) -> tuple[HostView, ReportOutcome]:
    """Upsert a host, apply its complete VM report and count it as a heartbeat."""
    register_host(session, spec, now=now)
    outcome = report_vms(session, spec.name, vms, now, complete=True)
    record_heartbeat(session, spec.name, now=now)
    return get_host(session, spec.name), outcome


def record_agent_report(
    session: Session,
    host: str,
    *,
    now: datetime,
    vms: Sequence[ReportedVm] | None = None,
    reported_at: datetime | None = None,
) -> ReportOutcome | None:
    """A heartbeat at ``now``, with the host's complete VM list if it sent one."""
    record_heartbeat(session, host, now=now)
    if vms is None:
        return None
    return report_vms(session, host, vms, reported_at or now, complete=True)


def ingest_samples(
    session: Session,
    host: str,
    *,
    taken_at: datetime,
    host_cpu_mhz: float,
    hypervisor_mhz: float,
    vm_samples: Sequence[tuple[str, float]],
    overloaded: bool | None,
) -> int:
    """Store one collection interval of a host; returns how many VM samples were new.

    A batch naming VMs the store does not know is refused whole (the agent reports its
    VMs before their samples, so such a batch comes from a confused agent); a sample
    sent twice is stored once.
    """
    taken_at = require_utc(taken_at, "sample time")
    host_row = host_by_name(session, host)
    host_table = HostSampleRow.__table__
    vm_table = VmSampleRow.__table__
    assert isinstance(host_table, Table) and isinstance(vm_table, Table)
    session.execute(
        insert_ignoring_duplicates(session, host_table),
        [
            {
                "host_id": host_row.id,
                "ts": taken_at,
                "host_cpu_mhz": host_cpu_mhz,
                "hypervisor_mhz": hypervisor_mhz,
            }
        ],
    )
    stored = 0
    if vm_samples:
        by_uuid = {check_vm_uuid(uuid): mhz for uuid, mhz in vm_samples}
        ids: dict[str, int] = {}
        for part in chunks(sorted(by_uuid)):
            found = session.execute(select(VmRow.uuid, VmRow.id).where(VmRow.uuid.in_(part)))
            ids.update((uuid, vm_id) for uuid, vm_id in found)
        unknown = sorted(set(by_uuid) - set(ids))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            shown = ", ".join(unknown[:5]) + more
            raise ConflictError(
                f"samples name VMs the controller does not know: {shown}; "
                "report the host's VMs first"
            )
        rows = [
            {"vm_id": vm_id, "ts": taken_at, "cpu_mhz": by_uuid[uuid]}
            for uuid, vm_id in ids.items()
        ]
        if rows:
            statement = insert_ignoring_duplicates(session, vm_table).returning(vm_table.c.id)
            stored = len(session.execute(statement, rows).all())
    if overloaded is not None:
        record_overload_state(session, host, taken_at, overloaded)
    return stored
