"""Prometheus metrics and efficacy figures (AOTF, AITF, energy)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleetwise.controller.config import EnergyModel
from fleetwise.controller.efficacy import efficacy
from fleetwise.core.lifecycle import HostPowerState as H
from fleetwise.store.views import OverloadEntry, PowerLogEntry
from tests.helpers.controller import T0, Harness, HarnessFactory, host_view


def test_efficacy_over_a_window_by_hand() -> None:
    def change(t: float, a: H, b: H) -> PowerLogEntry:
        return PowerLogEntry("a", T0 + timedelta(seconds=t), a, b, "test")

    power = [
        change(20, H.ACTIVE, H.GOING_TO_SLEEP),
        change(20, H.GOING_TO_SLEEP, H.ASLEEP),
        change(60, H.ASLEEP, H.WAKING),
        change(70, H.WAKING, H.ACTIVE),
    ]
    overload = [
        OverloadEntry("a", T0 + timedelta(seconds=10), True),
        OverloadEntry("a", T0 + timedelta(seconds=20), False),
        OverloadEntry("b", T0 + timedelta(seconds=80), False),
    ]
    # Host b registered half-way and was overloaded since before the window (per the log).
    result = efficacy(
        [host_view("a", H.ACTIVE), host_view("b", H.ACTIVE, registered_s=50)],
        power,
        overload,
        {"b": True},
        since=T0,
        until=T0 + timedelta(seconds=100),
        energy=EnergyModel(active_w=200, asleep_w=10, transition_w=100),
    )
    # a: active 50 s, asleep 40 s, waking 10 s; overloaded 10 s. b: active 50 s, overloaded 30 s.
    assert result.seconds_by_state[H.ACTIVE] == 100
    assert result.seconds_by_state[H.ASLEEP] == 40
    assert result.seconds_by_state[H.WAKING] == 10
    assert result.aitf == pytest.approx(40 / 150)
    assert result.aotf == pytest.approx((10 + 30) / 110)
    assert result.energy_kwh == pytest.approx((100 * 200 + 40 * 10 + 10 * 100) / 3.6e6)


def test_efficacy_without_hosts_is_zero() -> None:
    result = efficacy([], [], [], {}, since=T0, until=T0, energy=EnergyModel())
    assert (result.aotf, result.aitf, result.energy_kwh) == (0.0, 0.0, 0.0)


def _metrics(harness: Harness) -> dict[str, float]:
    text = harness.client.get("/metrics", headers=harness.headers("admin")).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_follow_a_finished_plan(harness: Harness) -> None:
    harness.build_fleet({"h1": {1: 400.0}, "h2": {2: 1500.0}})
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    harness.execute()
    harness.finish_assignments("h1")
    harness.advance(600)
    for host in ("h1", "h2"):
        harness.heartbeat(host)  # the agents are alive: h1 may go to sleep
    harness.execute()
    harness.advance(600)
    values = _metrics(harness)
    assert values["fleetwise_hosts{power_state=asleep}"] == 1
    assert values["fleetwise_hosts{power_state=active}"] == 1
    assert values["fleetwise_vms"] == 2
    assert values["fleetwise_migrations_started_total"] == 1
    assert values["fleetwise_migrations_succeeded_total"] == 1
    assert values["fleetwise_migrations_failed_total"] == 0
    assert 0 < values["fleetwise_aitf"] < 0.5
    assert values["fleetwise_estimated_power_watts"] == 200 + 10
    assert values["fleetwise_estimated_energy_kwh"] > 0
    key = (
        "fleetwise_http_request_duration_seconds_count"
        "{method=POST,route=/v1/agents/{host}/samples,status=200}"
    )
    assert values[key] == 4
    stats = harness.ok("GET", "/v1/stats")
    assert stats["hosts_by_state"]["asleep"] == 1 and stats["migrations_total"] == 1
    assert stats["aitf"] == pytest.approx(values["fleetwise_aitf"], rel=0.01)


def test_each_app_has_its_own_registry(make_harness: HarnessFactory) -> None:
    first, second = make_harness(), make_harness()
    first.ok("GET", "/v1/health")
    key = "fleetwise_http_request_duration_seconds_count{method=GET,route=/v1/health,status=200}"
    assert _metrics(first)[key] == 1
    assert key not in _metrics(second)
