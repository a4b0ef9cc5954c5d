"""Efficacy figures of the fleet over a window, from the power and overload logs.

* AITF (idle time fraction): time hosts spent asleep ÷ total host time.
* AOTF (overload time fraction): time hosts spent overloaded ÷ time they were not
  asleep.
* Energy: time in each power state × the watts configured for it.

A host counts from the later of the window start and its registration. Its power
state at that moment is the ``from_state`` of its first logged change in the
window (or its current state if none); its overload state is the last one logged
before the window (or not overloaded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleetwise.controller.config import EnergyModel
from fleetwise.core.lifecycle import HostPowerState
from fleetwise.store.views import HostView, OverloadEntry, PowerLogEntry

__all__ = ["Efficacy", "efficacy", "power_watts", "watts"]

_JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True)
class Efficacy:
    """Fleet-wide figures over one window; fractions are 0 when there is no time to divide."""

    aotf: float
    aitf: float
    energy_kwh: float
    seconds_by_state: Mapping[HostPowerState, float]


def watts(state: HostPowerState, model: EnergyModel) -> float:
    """Power drawn by a host in ``state``."""
    if state is HostPowerState.ACTIVE:
        return model.active_w
    if state is HostPowerState.ASLEEP:
        return model.asleep_w
    return model.transition_w


def power_watts(hosts: Iterable[HostView], model: EnergyModel) -> float:
    """Estimated power drawn by ``hosts`` right now."""
    return sum(watts(h.power_state, model) for h in hosts)


def _power_seconds(
    host: HostView, entries: Sequence[PowerLogEntry], start: datetime, end: datetime
) -> dict[HostPowerState, float]:
    seconds = dict.fromkeys(HostPowerState, 0.0)
    inside = [e for e in entries if start <= e.ts <= end]
    state = inside[0].from_state if inside else host.power_state
    moment = start
    for entry in inside:
        seconds[state] += (entry.ts - moment).total_seconds()
        moment, state = entry.ts, entry.to_state
    seconds[state] += (end - moment).total_seconds()
    return seconds


def _overload_seconds(
    initial: bool, entries: Sequence[OverloadEntry], start: datetime, end: datetime
) -> float:
    total = 0.0
    overloaded, moment = initial, start
    for entry in (e for e in entries if start <= e.ts <= end):
        if overloaded:
            total += (entry.ts - moment).total_seconds()
        moment, overloaded = entry.ts, entry.overloaded
    if overloaded:
        total += (end - moment).total_seconds()
    return total


def efficacy(
    hosts: Sequence[HostView],
    power_log: Sequence[PowerLogEntry],
    overload_log: Sequence[OverloadEntry],
    overload_before: Mapping[str, bool],
    *,
    since: datetime,
    until: datetime,
    energy: EnergyModel,
) -> Efficacy:
    """AOTF, AITF and energy of ``hosts`` over ``[since, until]``."""
    power_by_host: dict[str, list[PowerLogEntry]] = {}
    for power_entry in power_log:
        power_by_host.setdefault(power_entry.host, []).append(power_entry)
    overload_by_host: dict[str, list[OverloadEntry]] = {}
    for overload_entry in overload_log:
        overload_by_host.setdefault(overload_entry.host, []).append(overload_entry)
    by_state = dict.fromkeys(HostPowerState, 0.0)
    overloaded = 0.0
    joules = 0.0
    for host in hosts:
        start = max(since, host.registered_at)
        if start >= until:
            continue
        seconds = _power_seconds(host, power_by_host.get(host.name, []), start, until)
        for state, value in seconds.items():
            by_state[state] += value
            joules += value * watts(state, energy)
        overloaded += _overload_seconds(
            overload_before.get(host.name, False),
            overload_by_host.get(host.name, []),
            start,
            until,
        )
    total = sum(by_state.values())
    asleep = by_state[HostPowerState.ASLEEP]
    awake = total - asleep
    return Efficacy(
        aotf=min(1.0, overloaded / awake) if awake > 0 else 0.0,
        aitf=asleep / total if total > 0 else 0.0,
        energy_kwh=joules / _JOULES_PER_KWH,
        seconds_by_state=by_state,
    )
