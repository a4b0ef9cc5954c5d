"""Reallocation requests sent by hosts' local managers, and what became of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.round import RequestOutcome
from fleetwise.errors import ConflictError, NotFoundError, ParameterError
from fleetwise.ids import check_vm_uuid
from fleetwise.store.coltypes import require_utc
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.lookup import host_by_name, rowcount
from fleetwise.store.models import RequestRow, VmRow
from fleetwise.store.views import RequestView, request_view

__all__ = ["get_request", "list_requests", "record_request", "set_request_outcome"]


def record_request(
    session: Session,
    host: str,
    reason: ReallocationReason,
    vm_uuids: Sequence[str],
    *,
    received_at: datetime,
    sent_at: datetime | None = None,
) -> RequestView:
    """Store a request as received; an overload request must name its VMs."""
    received_at = require_utc(received_at)
    if reason is ReallocationReason.OVERLOAD and not vm_uuids:
        raise ParameterError("an overload request must name the VMs to move")
    uuids = [check_vm_uuid(u) for u in vm_uuids]
    if len(set(uuids)) != len(uuids):
        raise ParameterError("a request names the same VM twice")
    known = (
        set(session.scalars(select(VmRow.uuid).where(VmRow.uuid.in_(uuids)))) if uuids else set()
    )
    unknown = sorted(set(uuids) - known)
    if unknown:
        raise ConflictError(
            f"the request names VMs the controller does not know: {', '.join(unknown)}"
        )
    request = RequestRow(
        host_id=host_by_name(session, host).id,
        reason=reason,
        vm_uuids=uuids,
        sent_at=None if sent_at is None else require_utc(sent_at),
        received_at=received_at,
    )
    session.add(request)
    session.flush()
    return get_request(session, request.id)


def get_request(session: Session, request_id: int) -> RequestView:
    """One request."""
    stmt = (
        select(RequestRow)
        .where(RequestRow.id == request_id)
        .options(selectinload(RequestRow.host))
        .execution_options(populate_existing=True)
    )
    request = session.scalars(stmt).first()
    if request is None:
        raise NotFoundError(f"unknown reallocation request: {request_id}")
    return request_view(request)


def set_request_outcome(
    session: Session,
    request_id: int,
    outcome: RequestOutcome,
    *,
    now: datetime,
    note: str | None = None,
) -> RequestView:
    """Record what the global manager made of a request (once), with a note saying why."""
    now = require_utc(now)
    if not outcome.final:
        raise ParameterError(f"{outcome.value!r} is not a final outcome")
    changed = rowcount(
        session,
        update(RequestRow)
        .where(RequestRow.id == request_id, RequestRow.outcome.is_(None))
        .values(outcome=outcome, note=None if note is None else note[:1000], handled_at=now),
    )
    if changed != 1:
        current = get_request(session, request_id)
        raise ConflictError(f"request {request_id} was already handled ({current.outcome})")
    return get_request(session, request_id)


def list_requests(
    session: Session, since: datetime | None = None, limit: int = 100
) -> tuple[RequestView, ...]:
    """Requests, newest first."""
    if limit < 1:
        raise ParameterError(f"limit must be positive, got {limit}")
    stmt = (
        select(RequestRow)
        .options(selectinload(RequestRow.host))
        .order_by(RequestRow.received_at.desc(), RequestRow.id.desc())
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(RequestRow.received_at >= require_utc(since))
    return tuple(request_view(r) for r in session.scalars(stmt))
