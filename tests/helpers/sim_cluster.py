"""A controller and agent processes on a shared simulated fleet, for the end-to-end tests.

The fleet's clock runs ``SPEEDUP`` times faster than real time; agent and controller
intervals are in real seconds (the agents scale theirs to the fleet's clock). VMs follow
constant CPU traces so that each scenario's decisions are known in advance. Every poll of
:meth:`SimCluster.wait_for` also checks the invariants: each VM is on exactly one
host in the fleet file and none is lost, and the controller records each VM once.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetwise.api.client import AdminClient
from fleetwise.api.schemas import MigrationOut, PlanOut
from fleetwise.demo.cluster import ClusterSettings, LocalCluster, admin_http, deep_merge
from fleetwise.drivers.hypervisor.base import VmState
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.shared_fleet import FleetHostSpec, FleetVmSpec, SharedFleet
from fleetwise.errors import DriverError, InputError

__all__ = [
    "AGENT_DEFAULTS",
    "CONTROLLER_DEFAULTS",
    "CORE_MHZ",
    "HOSTS",
    "NO_UNDERLOAD",
    "SLOW_DRAIN",
    "SPEEDUP",
    "UNDERLOADED_H3",
    "SimCluster",
    "SimClusterFactory",
    "SimVm",
    "consolidate_h3",
    "drain_under_way",
    "make_fleet",
    "vm_uuid",
]

SPEEDUP = 300.0
CORES = 4
CORE_MHZ = 2000.0
HOST_RAM_MB = 8192

AGENT_DEFAULTS: dict[str, Any] = {
    # Real seconds: collect every 300 simulated seconds (one real second).
    "intervals": {
        "collect_s": 1.0,
        "heartbeat_s": 0.5,
        "assignment_poll_s": 0.1,
        "delivery_s": 0.1,
    },
    "history_length": 50,
    "http": {"backoff_initial_s": 0.3, "backoff_max_s": 2.0, "progress_every_s": 1.0},
}
CONTROLLER_DEFAULTS: dict[str, Any] = {
    # Real seconds.
    "plan_round_spacing_s": 1.0,
    "executor_spacing_s": 0.25,
    "staleness_window_s": 30.0,
    "heartbeat_timeout_s": 30.0,
    "wake_timeout_s": 60.0,
    "migration_timeout_s": 60.0,
}
NO_UNDERLOAD: dict[str, Any] = {
    "local_manager": {"underload": {"name": "threshold", "params": {"threshold": 0.01}}}
}
"""Agent settings under which no host asks to be emptied."""


HOSTS = ("h1", "h2", "h3")


def vm_uuid(n: int) -> str:
    """The UUID of test VM number ``n``."""
    return str(uuid.UUID(int=n))


@dataclass(frozen=True)
class SimVm:
    """VM ``n`` on ``host``: ``vcpus`` busy at ``fraction`` of their capacity, always."""

    n: int
    host: str
    vcpus: int
    fraction: float
    ram_mb: int = 1024

    @property
    def uuid(self) -> str:
        return vm_uuid(self.n)

    @property
    def mhz(self) -> float:
        return self.vcpus * self.fraction * CORE_MHZ


UNDERLOADED_H3 = (
    SimVm(1, "h1", 2, 0.6),
    SimVm(2, "h1", 2, 0.6),
    SimVm(3, "h2", 2, 0.6),
    SimVm(4, "h2", 2, 0.6),
    SimVm(5, "h3", 1, 0.2),
)
"""h1 and h2 at 60 %, h3 at 5 %: only h3 is underloaded, and its VM fits on either."""

SLOW_DRAIN: dict[str, Any] = {
    # Draining h1 moves its three VMs one at a time (one per source); each move of
    # 6 GB at 10 MB/s takes 614 simulated seconds, about 2 s of real time.
    "vms": (
        SimVm(1, "h1", 1, 0.3, ram_mb=6144),
        SimVm(2, "h1", 1, 0.3, ram_mb=6144),
        SimVm(3, "h1", 1, 0.3, ram_mb=6144),
        SimVm(4, "h2", 2, 0.6, ram_mb=6144),
        SimVm(5, "h3", 2, 0.6, ram_mb=6144),
    ),
    "agent": NO_UNDERLOAD,
    "host_ram_mb": 32768,
    "bandwidth_mb_s": 10.0,
}
"""Keyword arguments of a cluster whose drain of h1 takes a few seconds."""


def make_fleet(
    path: Path,
    hosts: Sequence[str],
    vms: Iterable[SimVm],
    *,
    host_ram_mb: int = HOST_RAM_MB,
    bandwidth_mb_s: float = 100.0,
    wake_latency_s: float = 60.0,
) -> SharedFleet:
    """A fleet file of identical hosts (4 cores of 2000 MHz) running ``vms``."""
    return SharedFleet.create(
        path,
        [FleetHostSpec(h, CORES, CORE_MHZ, host_ram_mb) for h in hosts],
        [
            (vm.host, FleetVmSpec(vm.uuid, f"vm{vm.n}", vm.vcpus, vm.ram_mb, _flat(vm.fraction)))
            for vm in vms
        ],
        speedup=SPEEDUP,
        bandwidth_mb_s=bandwidth_mb_s,
        wake_latency_s=wake_latency_s,
        label="end-to-end test",
    )


def _flat(fraction: float) -> CpuTrace:
    return CpuTrace.of([fraction], 300.0)


class SimCluster:
    """One controller and one agent per host on ``fleet``, with the checks the tests share."""

    def __init__(
        self,
        root: Path,
        hosts: Sequence[str],
        vms: Sequence[SimVm],
        *,
        controller: Mapping[str, Any] | None = None,
        agent: Mapping[str, Any] | None = None,
        agents: Mapping[str, Mapping[str, Any]] | None = None,
        database_url: str | None = None,
        **fleet_options: Any,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.hosts = list(hosts)
        self.vm_ids = sorted(vm.uuid for vm in vms)
        self.removed: set[str] = set()
        self.fleet_path = root / "fleet.db"
        self.fleet = make_fleet(self.fleet_path, hosts, vms, **fleet_options)
        self.cluster = LocalCluster(
            ClusterSettings(
                fleet_path=self.fleet_path,
                hosts=self.hosts,
                state_dir=root / "state",
                controller=deep_merge(CONTROLLER_DEFAULTS, controller or {}),
                agent=deep_merge(AGENT_DEFAULTS, agent or {}),
                agents=agents or {},
                database_url=database_url,
                token_cost=10,
            )
        )
        self.admin: AdminClient = self.cluster.admin(timeout_s=10.0)
        self.http = admin_http(self.cluster.url, self.cluster.admin_token, timeout_s=10.0)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start everything; wait until every host registered and every VM has a sample."""
        self.cluster.start()

        def measured() -> bool:
            vms = self.admin.vms()
            hosts = {h.name for h in self.admin.hosts()}
            return (
                hosts == set(self.hosts)
                and len(vms) == len(self.vm_ids)
                and all(vm.cpu_mhz is not None for vm in vms)
            )

        self.wait_for(measured, 30, "every host registered and every VM was measured")

    def close(self) -> dict[str, int | None]:
        """Stop every process; their exit statuses."""
        try:
            return self.cluster.stop(grace_s=15.0)
        finally:
            self.admin.close()
            self.http.close()
            self.fleet.close()

    # -- waiting and invariants -----------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``predicate`` (and the invariants) until it holds; fail after ``timeout_s``.

        A controller that does not answer (being restarted, or its database down) makes
        the predicate count as not holding yet.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_invariants()
            with suppress(DriverError):
                if predicate():
                    return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout_s:g} s waiting until {what}\n" + self.describe()
                )
            time.sleep(0.05)

    def remove_vm(self, uuid: str) -> None:
        """Take a VM away from the fleet (as if it had been deleted); the checks follow."""
        self.fleet.remove_vm(uuid)
        self.removed.add(uuid)

    def check_invariants(self) -> None:
        """No VM lost or on two hosts (fleet file); each VM recorded once (controller)."""
        placement = self.fleet.placement()
        seen = [vm for vms in placement.values() for vm in vms]
        expected = sorted(set(self.vm_ids) - self.removed)
        assert sorted(seen) == expected, f"fleet placement lost or doubled a VM: {placement}"
        try:
            recorded = [vm.uuid for vm in self.admin.vms()]
        except DriverError:
            return  # the controller is down or restarting
        assert len(recorded) == len(set(recorded)), f"a VM is recorded twice: {recorded}"
        assert set(recorded) <= set(self.vm_ids), f"unknown VMs recorded: {recorded}"

    def settled(self) -> bool:
        """Whether the controller records every VM where the fleet file has it."""
        return self.controller_placement() == self.fleet_placement()

    # -- views ------------------------------------------------------------------------

    def fleet_placement(self) -> dict[str, str]:
        """VM UUID → host, from the fleet file."""
        return {vm: host for host, vms in self.fleet.placement().items() for vm in vms}

    def controller_placement(self) -> dict[str, str | None]:
        """VM UUID → host, as the controller records it."""
        return {vm.uuid: vm.host for vm in self.admin.vms()}

    def power(self, host: str) -> str:
        """The controller's power state of ``host``."""
        return self.admin.host(host).power_state

    def fleet_power(self, host: str) -> str:
        """``on`` or ``off`` in the fleet file."""
        return self.fleet.power().status(host).value

    def plans(self) -> list[PlanOut]:
        """Every plan, oldest first."""
        return sorted(self.admin.plans(), key=lambda p: p.id)

    def migrations(self) -> list[MigrationOut]:
        """The controller's migration records, oldest first."""
        response = self.http.get("/v1/migrations")
        assert response.status_code == 200, response.text
        return [MigrationOut.model_validate(m) for m in response.json()]

    def ready_at(self, host: str) -> float:
        """Simulated time at which ``host`` was (or will be) awake after its last wake-up."""
        conn = sqlite3.connect(f"file:{self.fleet_path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT ready_at FROM hosts WHERE name = ?", (host,)).fetchone()
        finally:
            conn.close()
        return float(row[0])

    def describe(self) -> str:
        """The fleet and the controller's view, for failure messages."""
        lines = [f"fleet placement: {self.fleet.placement()}"]
        try:
            lines.append(
                "controller hosts: "
                + ", ".join(f"{h.name}={h.power_state}/{h.vms}" for h in self.admin.hosts())
            )
            for plan in self.plans():
                actions = ", ".join(
                    f"{a.kind}:{a.state}"
                    + (f"[{a.vm_uuid[-2:]} {a.source}->{a.destination}]" if a.vm_uuid else "")
                    + (f"[{a.host}]" if a.host else "")
                    + (f"({a.last_error})" if a.last_error else "")
                    for a in plan.actions
                )
                lines.append(f"plan {plan.id} {plan.state} '{plan.reason}': {actions}")
        except (DriverError, InputError) as exc:
            lines.append(f"controller not answering: {exc}")
        return "\n".join(lines)

    def plan_ended(self, plan_id: int) -> bool:
        """Whether plan ``plan_id`` exists and reached a final state."""
        plans = {p.id: p for p in self.admin.plans()}
        return plan_id in plans and plans[plan_id].state not in (
            "recommended",
            "pending",
            "ongoing",
        )

    def log(self, name: str) -> str:
        """What process ``name`` (``controller`` or a host) logged."""
        return self.cluster.log_path(name).read_text(encoding="utf-8", errors="replace")


def consolidate_h3(cluster: SimCluster) -> str:
    """Wait until h3 (of :data:`UNDERLOADED_H3`) was emptied and sleeps; where its VM went."""
    cluster.wait_for(
        lambda: cluster.fleet_power("h3") == "off" and cluster.power("h3") == "asleep",
        40,
        "h3 is asleep",
    )
    cluster.wait_for(cluster.settled, 20, "the controller sees every VM where it is")
    destination = cluster.fleet_placement()[UNDERLOADED_H3[-1].uuid]
    assert destination in ("h1", "h2")
    return destination


def drain_under_way(cluster: SimCluster) -> bool:
    """Whether a VM is leaving h1 in the fleet while the controller has an action running."""
    in_flight = any(vm.state is VmState.MIGRATING for vm in cluster.fleet.list_vms("h1"))
    ongoing = [a for p in cluster.plans() for a in p.actions if a.state == "ongoing"]
    return in_flight and bool(ongoing)


SimClusterFactory = Callable[..., SimCluster]
"""Builds clusters that are stopped when the test ends (the ``make_sim_cluster`` fixture)."""
