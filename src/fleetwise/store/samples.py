"""CPU samples of VMs and hosts: batch ingestion, latest-N queries and retention.

Samples are keyed by (owner, ts); a sample sent twice (an agent retrying a report)
is stored once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from fleetwise.errors import ParameterError
from fleetwise.store.coltypes import require_utc
from fleetwise.store.lookup import chunks, host_ids, insert_ignoring_duplicates, rowcount, vm_ids
from fleetwise.store.models import HostRow, HostSampleRow, VmRow, VmSampleRow
from fleetwise.store.records import HostSampleIn, VmSampleIn
from fleetwise.store.views import CpuSample, HostCpuSample

__all__ = [
    "add_host_samples",
    "add_vm_samples",
    "delete_samples_before",
    "last_host_samples",
    "last_vm_samples",
]


def add_vm_samples(session: Session, samples: Iterable[VmSampleIn]) -> None:
    """Store a batch of VM samples in one statement; any unknown VM rejects the batch."""
    batch = list(samples)
    if not batch:
        return
    ids = vm_ids(session, {s.vm_uuid for s in batch})
    rows = [{"vm_id": ids[s.vm_uuid], "ts": s.ts, "cpu_mhz": s.cpu_mhz} for s in batch]
    _insert_rows(session, VmSampleRow, rows)


def add_host_samples(session: Session, samples: Iterable[HostSampleIn]) -> None:
    """Store a batch of host samples in one statement; any unknown host rejects the batch."""
    batch = list(samples)
    if not batch:
        return
    ids = host_ids(session, {s.host for s in batch})
    rows = [
        {
            "host_id": ids[s.host],
            "ts": s.ts,
            "host_cpu_mhz": s.host_cpu_mhz,
            "hypervisor_mhz": s.hypervisor_mhz,
        }
        for s in batch
    ]
    _insert_rows(session, HostSampleRow, rows)


def _insert_rows(
    session: Session, model: type[VmSampleRow] | type[HostSampleRow], rows: list[dict[str, Any]]
) -> None:
    # RETURNING makes SQLAlchemy batch the rows into multi-row INSERTs ("insertmanyvalues")
    # on every back end, instead of one statement per row.
    table = cast(Table, model.__table__)
    statement = insert_ignoring_duplicates(session, table).returning(table.c.id)
    session.execute(statement, rows).close()


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"the number of samples must be a positive integer, got {n!r}")


def _ranked(owner: InstrumentedAttribute[int], ts: InstrumentedAttribute[datetime]) -> Any:
    return func.row_number().over(partition_by=owner, order_by=ts.desc()).label("rank")


def last_vm_samples(
    session: Session, n: int, vm_uuids: Collection[str] | None = None
) -> dict[str, tuple[CpuSample, ...]]:
    """The last ``n`` samples of each VM (of ``vm_uuids``, or of every VM), oldest first.

    A requested VM without samples maps to an empty tuple.
    """
    _check_n(n)
    result: dict[str, list[CpuSample]] = {}
    if vm_uuids is None:
        groups: list[Collection[int] | None] = [None]
    else:
        ids = vm_ids(session, vm_uuids)
        result = {uuid: [] for uuid in ids}
        groups = [list(part) for part in chunks(sorted(ids.values()))]
    for group in groups:
        inner: Select[Any] = select(
            VmSampleRow.vm_id,
            VmSampleRow.ts,
            VmSampleRow.cpu_mhz,
            _ranked(VmSampleRow.vm_id, VmSampleRow.ts),
        )
        if group is not None:
            inner = inner.where(VmSampleRow.vm_id.in_(group))
        ranked = inner.subquery()
        stmt = (
            select(VmRow.uuid, ranked.c.ts, ranked.c.cpu_mhz)
            .join(ranked, ranked.c.vm_id == VmRow.id)
            .where(ranked.c.rank <= n)
            .order_by(VmRow.uuid, ranked.c.ts)
        )
        for uuid, ts, mhz in session.execute(stmt):
            result.setdefault(uuid, []).append(CpuSample(ts, mhz))
    return {uuid: tuple(series) for uuid, series in result.items()}


def last_host_samples(
    session: Session, n: int, hosts: Collection[str] | None = None
) -> dict[str, tuple[HostCpuSample, ...]]:
    """The last ``n`` samples of each host (of ``hosts``, or of every host), oldest first."""
    _check_n(n)
    inner: Select[Any] = select(
        HostSampleRow.host_id,
        HostSampleRow.ts,
        HostSampleRow.host_cpu_mhz,
        HostSampleRow.hypervisor_mhz,
        _ranked(HostSampleRow.host_id, HostSampleRow.ts),
    )
    result: dict[str, list[HostCpuSample]] = {}
    if hosts is not None:
        ids = host_ids(session, hosts)
        result = {name: [] for name in ids}
        inner = inner.where(HostSampleRow.host_id.in_(list(ids.values())))
    ranked = inner.subquery()
    stmt = (
        select(HostRow.name, ranked.c.ts, ranked.c.host_cpu_mhz, ranked.c.hypervisor_mhz)
        .join(ranked, ranked.c.host_id == HostRow.id)
        .where(ranked.c.rank <= n)
        .order_by(HostRow.name, ranked.c.ts)
    )
    for name, ts, host_mhz, hypervisor_mhz in session.execute(stmt):
        result.setdefault(name, []).append(HostCpuSample(ts, host_mhz, hypervisor_mhz))
    return {name: tuple(series) for name, series in result.items()}


def delete_samples_before(session: Session, cutoff: datetime, *, keep_last: int = 0) -> int:
    """Delete VM and host samples older than ``cutoff``; returns how many were deleted.

    ``keep_last`` keeps the newest samples of every VM and host even when they are
    older than the cutoff, so a VM that stopped reporting keeps enough history for
    its detectors and its placement.
    """
    cutoff = require_utc(cutoff, "retention cutoff")
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
        raise ParameterError(f"keep_last must be an integer >= 0, got {keep_last!r}")
    deleted = 0
    for model, owner in ((VmSampleRow, VmSampleRow.vm_id), (HostSampleRow, HostSampleRow.host_id)):
        stmt = delete(model).where(model.ts < cutoff)
        if keep_last:
            ranked = select(model.id, _ranked(owner, model.ts)).subquery()
            newest = select(ranked.c.id).where(ranked.c.rank <= keep_last)
            stmt = stmt.where(model.id.not_in(newest))
        deleted += rowcount(session, stmt.execution_options(synchronize_session=False))
    return deleted
