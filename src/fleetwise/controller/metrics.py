"""Prometheus metrics of one controller app, in a registry of its own.

* Fleet gauges and counters are read from the store at each scrape, so they are
  right after a restart and agree with ``GET /v1/stats``.
* Request latency is a histogram per method, route template and status, recorded
  by a small ASGI middleware.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases.figures import read_figures
from fleetwise.core.lifecycle import MigrationOutcome

__all__ = ["ControllerMetrics", "FleetCollector", "RequestTimer", "controller_registry"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class FleetCollector(Collector):
    """Hosts, VMs, migrations, AOTF, AITF and energy, from the store."""

    def __init__(self, context: ControllerContext) -> None:
        self._context = context

    def collect(self) -> Iterator[Metric]:
        figures = read_figures(self._context)
        counts = figures.counts
        hosts = GaugeMetricFamily("fleetwise_hosts", "Hosts by power state", labels=["power_state"])
        for state, count in counts.hosts_by_state.items():
            hosts.add_metric([state.value], count)
        yield hosts
        yield GaugeMetricFamily(
            "fleetwise_hosts_unreachable",
            "Hosts that should be awake whose agent has gone silent",
            value=len(figures.unreachable),
        )
        yield GaugeMetricFamily(
            "fleetwise_hosts_quarantined",
            "Hosts kept out of placement until their agent reports again",
            value=len(figures.quarantined),
        )
        yield GaugeMetricFamily("fleetwise_vms", "VMs placed on a host", value=counts.vms)
        yield CounterMetricFamily(
            "fleetwise_migrations_started",
            "Migration attempts started",
            value=counts.migrations_started,
        )
        for outcome, name in (
            (MigrationOutcome.SUCCEEDED, "succeeded"),
            (MigrationOutcome.FAILED, "failed"),
            (MigrationOutcome.UNKNOWN, "unknown"),
        ):
            yield CounterMetricFamily(
                f"fleetwise_migrations_{name}",
                f"Migration attempts that {name}",
                value=counts.migrations_by_outcome[outcome],
            )
        window = f"over the last {self._context.config.metrics.window_s:g} s"
        yield GaugeMetricFamily(
            "fleetwise_aotf",
            f"Overload time fraction of awake hosts {window}",
            value=figures.efficacy.aotf,
        )
        yield GaugeMetricFamily(
            "fleetwise_aitf",
            f"Idle (asleep) time fraction of hosts {window}",
            value=figures.efficacy.aitf,
        )
        yield GaugeMetricFamily(
            "fleetwise_estimated_energy_kwh",
            f"Estimated energy {window}",
            value=figures.efficacy.energy_kwh,
        )
        yield GaugeMetricFamily(
            "fleetwise_estimated_power_watts", "Estimated power drawn now", value=figures.power_w
        )


class RequestTimer:
    """ASGI middleware timing each HTTP request into a histogram."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope.get("method", ""), template, str(status)).observe(
                time.perf_counter() - started
            )


@dataclass(frozen=True)
class ControllerMetrics:
    """One app's registry with what the app itself records: latency, failed logins."""

    registry: CollectorRegistry
    latency: Histogram
    auth_failures: Counter


def controller_registry(context: ControllerContext) -> ControllerMetrics:
    """A fresh registry with the fleet collector, request latency and failed logins."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(context))
    latency = Histogram(
        "fleetwise_http_request_duration_seconds",
        "Time to answer API requests",
        labelnames=("method", "route", "status"),
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    failures = Counter(
        "fleetwise_auth_failures",
        "API calls refused for a missing or invalid token",
        labelnames=("reason",),
        registry=registry,
    )
    return ControllerMetrics(registry, latency, failures)
