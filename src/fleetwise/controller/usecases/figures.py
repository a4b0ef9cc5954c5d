"""Fleet figures for ``GET /v1/stats`` and the Prometheus metrics, read in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleetwise.api import schemas
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.efficacy import Efficacy, efficacy, power_watts
from fleetwise.controller.observation import is_unreachable
from fleetwise.store.fleet import FleetCounts, fleet_counts, overload_states_before
from fleetwise.store.inventory import list_hosts, overload_history, power_history
from fleetwise.store.views import HostView, OverloadEntry, PowerLogEntry

__all__ = ["FleetFigures", "fleet_stats", "read_figures"]


@dataclass(frozen=True, slots=True)
class FleetFigures:
    """Counts now, efficacy over the configured window, and power drawn now (W)."""

    counts: FleetCounts
    efficacy: Efficacy
    power_w: float
    unreachable: tuple[str, ...] = ()
    quarantined: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Raw:
    counts: FleetCounts
    hosts: tuple[HostView, ...]
    power_log: tuple[PowerLogEntry, ...]
    overload_log: tuple[OverloadEntry, ...]
    overload_before: dict[str, bool]


def _read(session: Session, since: datetime) -> _Raw:
    return _Raw(
        counts=fleet_counts(session),
        hosts=list_hosts(session),
        power_log=power_history(session, since=since),
        overload_log=overload_history(session, since=since),
        overload_before=overload_states_before(session, since),
    )


def read_figures(context: ControllerContext) -> FleetFigures:
    """The fleet's figures now."""
    now = context.now()
    metrics = context.config.metrics
    since = now - timedelta(seconds=metrics.window_s)
    raw = context.store.read(_read, since)
    return FleetFigures(
        counts=raw.counts,
        efficacy=efficacy(
            raw.hosts,
            raw.power_log,
            raw.overload_log,
            raw.overload_before,
            since=since,
            until=now,
            energy=metrics.energy,
        ),
        power_w=power_watts(raw.hosts, metrics.energy),
        unreachable=tuple(
            h.name for h in raw.hosts if is_unreachable(h, now, context.config.heartbeat_timeout_s)
        ),
        quarantined=tuple(h.name for h in raw.hosts if h.quarantined_at is not None),
    )


def fleet_stats(figures: FleetFigures) -> schemas.FleetStats:
    """The API body of ``GET /v1/stats``."""
    return schemas.FleetStats(
        hosts_by_state={s.value: n for s, n in figures.counts.hosts_by_state.items()},
        hosts_unreachable=len(figures.unreachable),
        hosts_quarantined=len(figures.quarantined),
        vms=figures.counts.vms,
        migrations_total=figures.counts.migrations_started,
        aotf=figures.efficacy.aotf,
        aitf=figures.efficacy.aitf,
        estimated_energy_kwh=figures.efficacy.energy_kwh,
    )
