"""End to end on real libvirt: a busy guest overloads host A and is live-migrated to host B.

Everything is real except host power: two libvirtd daemons of the lab (``scripts/libvirt-lab.sh``),
tiny QEMU/KVM guests, a controller process (SQLite, automatic mode, simulated power) and one agent
process per host. The agents measure the guests' CPU time, host A's local manager asks for relief,
the controller plans and hands the migration to A's agent, which live-migrates the guest. The test
then asks B's libvirtd itself where the guest runs, and the controller's API how it ended.

The test holds on a machine busy with other work: no step has a fixed time limit. Each stage of the
scenario has a budget counted in the progress that should bring it about (host A's collections,
requests answered, migration data moved, CPU seconds of a starting process), and the test fails
early, with the evidence, when one is used up or when nothing in the system moved for a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetwise.api.schemas import ActionOut, HostOut, MigrationOut, PlanOut, VmOut
from fleetwise.controller.tokens import hash_token
from fleetwise.core.round import RequestOutcome
from fleetwise.drivers.hypervisor.lab_guests import GuestLoad, LabGuest, start_guest, write_disk
from fleetwise.drivers.hypervisor.libvirt_driver import LibvirtHypervisor
from fleetwise.store.reallocation import list_requests
from fleetwise.store.repository import Store
from fleetwise.store.samples import last_host_samples, last_vm_samples
from fleetwise.store.views import RequestView
from tests.helpers.libvirt_e2e import (
    Budget,
    Daemon,
    Lab,
    MachineCpu,
    Service,
    Stage,
    domain_on,
    follow,
    free_port,
    lab_unavailable,
    running_lab,
    start_service,
    wait_until_idle,
    wait_until_running,
    write_yaml,
)

# The time-out only guards against a hung test run; the stages' budgets decide failure.
pytestmark = [pytest.mark.slow, pytest.mark.libvirt_real, pytest.mark.timeout(1200)]

HOST_A, HOST_B = "host-a", "host-b"
ADMIN_TOKEN = "e2e-admin-token-for-the-libvirt-lab"
CHEAP_HASH_COST = 10  # log2 of scrypt's n: the tokens only guard a loopback test
COLLECT_S = 5.0
HEARTBEAT_S = 2.0
B_COLLECT_S = 3600.0  # longer than the test: B never reports a sample (see agent_config)
STALL_S = 60.0  # nothing observable changed for this long: something hangs
STARTUP_CPU_S = 60.0  # CPU seconds a starting process may use before it must answer
ALL_SAMPLES = 100_000


def agent_token(host: str) -> str:
    return f"e2e-agent-token-of-{host}"


@dataclass
class Timings:
    """Measured figures (seconds, or counts and cores where the name says so), kept as test
    properties and printed."""

    values: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, seconds: float) -> None:
        self.values[name] = round(seconds, 2)


@pytest.fixture
def timings(record_property: Callable[[str, object], None]) -> Iterator[Timings]:
    found = Timings()
    yield found
    for name, seconds in found.values.items():
        record_property(name, seconds)
    print("timings:", " ".join(f"{k}={v}" for k, v in found.values.items()))


@pytest.fixture
def lab(timings: Timings) -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(f"real libvirt lab unavailable: {reason}")
    start = time.monotonic()
    with running_lab() as running:
        timings.mark("lab_start_s", time.monotonic() - start)
        yield running
        stop_from = time.monotonic()
    timings.mark("lab_stop_s", time.monotonic() - stop_from)


@dataclass(frozen=True)
class Guests:
    busy: str
    idle: str

    @property
    def both(self) -> tuple[str, str]:
        return (self.busy, self.idle)


@pytest.fixture
def guests(lab: Lab, timings: Timings) -> Guests:
    """A busy and an idle guest (1 vCPU, 128 MiB) on host A; the lab's stop removes them."""
    start = time.monotonic()
    made: dict[GuestLoad, str] = {}
    for load in (GuestLoad.BUSY, GuestLoad.IDLE):
        disk = write_disk(lab.images / f"{load}.raw", load)
        guest = LabGuest(f"fw-e2e-{load}", disk, vcpus=1, memory_mib=128)
        start_guest(lab.uri_a, guest)
        made[load] = guest.uuid
    timings.mark("guests_started_s", time.monotonic() - start)
    return Guests(busy=made[GuestLoad.BUSY], idle=made[GuestLoad.IDLE])


@dataclass
class Controller:
    """The controller process, an admin client of its API and a reader of its database
    (for what the API does not show: reallocation requests and samples)."""

    service: Service
    client: httpx.Client
    database_url: str
    _store: Store | None = None

    def _get(self, path: str) -> list[Any]:
        response = self.client.get(path)
        response.raise_for_status()
        found: list[Any] = response.json()
        return found

    def vms(self) -> dict[str, VmOut]:
        return {v.uuid: v for v in map(VmOut.model_validate, self._get("/v1/vms"))}

    def hosts(self) -> dict[str, HostOut]:
        return {h.name: h for h in map(HostOut.model_validate, self._get("/v1/hosts"))}

    def plans(self) -> list[PlanOut]:
        return [PlanOut.model_validate(p) for p in self._get("/v1/plans")]

    def migrations(self) -> list[MigrationOut]:
        return [MigrationOut.model_validate(m) for m in self._get("/v1/migrations")]

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.database_url, migrate=False)
        return self._store

    def close(self) -> None:
        self.client.close()
        if self._store is not None:
            self._store.close()


def startup_stage(what: str, ready: Callable[[], bool], service: Service) -> float:
    """Wait until a starting ``service`` is ``ready``; its budget is CPU seconds, which a
    busy machine does not stretch. Returns the seconds waited."""
    stage: Stage[tuple[bool, float]] = Stage(
        "ready",
        what,
        lambda seen: seen[0],
        (Budget(f"CPU seconds of {service.name}", lambda seen: seen[1], STARTUP_CPU_S),),
    )
    reached = follow(
        [stage],
        lambda: (ready(), service.cpu_s()),
        progress=lambda seen: seen[1],
        stall_s=STALL_S,
        services=(service,),
    )
    return reached["ready"]


@pytest.fixture
def controller(tmp_path: Path, timings: Timings) -> Iterator[Controller]:
    """The controller: SQLite in a temp dir, automatic mode, rounds every 2 s, simulated power.

    One spare host stays awake, so the empty host B is never put to sleep.
    """
    port = free_port()
    hosts = [
        {
            "name": name,
            "token_hash": str(hash_token(agent_token(name), log2_n=CHEAP_HASH_COST)),
            "power": {"driver": "simulated", "wake_latency_s": 1},
        }
        for name in (HOST_A, HOST_B)
    ]
    state_dir = tmp_path / "controller"
    config = {
        "state_dir": str(state_dir),
        "listen": {"host": "127.0.0.1", "port": port},
        "admin_token_hash": str(hash_token(ADMIN_TOKEN, log2_n=CHEAP_HASH_COST)),
        "hosts": hosts,
        "mode": "automatic",
        "global_manager": {
            "placement": {"name": "bfd", "params": {"cpu_threshold": 0.8, "ram_threshold": 0.95}},
            "spare_hosts": 1,
        },
        "plan_round_spacing_s": 2,
        "executor_spacing_s": 1,
        "migration_timeout_s": 60,
        "heartbeat_timeout_s": 60,
    }
    path = write_yaml(tmp_path / "controller.yaml", config)
    service = start_service("controller", ["controller", "--config", str(path)], tmp_path)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    running = Controller(service, client, f"sqlite:///{state_dir / 'controller.db'}")

    def healthy() -> bool:
        try:
            return client.get("/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        timings.mark(
            "controller_ready_s", startup_stage("the controller answers", healthy, service)
        )
        yield running
    finally:
        running.close()
        service.stop()


def host_mhz(uri: str) -> float:
    with LibvirtHypervisor(uri) as hypervisor:
        return hypervisor.host_info().core_mhz


def agent_config(tmp_path: Path, host: str, uri: str, url: str) -> dict[str, Any]:
    """An agent of the lab: libvirt at ``uri``, migrations over loopback without shared storage.

    Both lab hosts are this one machine, so each agent would count everything else the
    machine runs (the other host's guests, other programs) as its own hypervisor overhead:

    * Host A may use half the machine (``usable_cpu_fraction`` 0.5, one core). The busy guest
      alone keeps that core full, so A's utilisation is at least 1.0, above THR's 0.8. Its
      request names one VM (``max_vms_per_request`` 1): the one MMT-max-CPU picks, equal RAM
      then the highest measured CPU, i.e. the busy guest. On a machine busy with other work
      A is overloaded anyway, and may ask again for the idle guest once the busy one has left;
      the test allows either place for the idle guest. Underload detection is off.
    * Host B measures nothing while the test runs: its collection interval is longer than
      the test, so it reports no sample and the controller knows no hypervisor overhead for
      it. Measured, that overhead would be the whole machine's load, and on a busy machine B
      would look full (the controller answered ``no_placement`` for as long as it lasted).
      Its capacity is its real cores at their real speed; B's detectors are off.
    """
    common: dict[str, Any] = {
        "host": host,
        "controller_url": url,
        "agent_token": agent_token(host),
        "state_dir": str(tmp_path / host),
        "http": {"timeout_s": 10, "backoff_initial_s": 0.5, "backoff_max_s": 2},
        "hypervisor": {
            "kind": "libvirt",
            "uri": uri,
            "migration_uri": "tcp://127.0.0.1",
            "allow_unsafe": True,  # no shared storage: the lab's disks are local files
        },
    }
    intervals = {"heartbeat_s": HEARTBEAT_S, "assignment_poll_s": 1, "delivery_s": 1}
    if host == HOST_A:
        return common | {
            "intervals": intervals | {"collect_s": COLLECT_S},
            "usable_cpu_fraction": 0.5,
            "overload_threshold": 0.8,
            "local_manager": {
                "underload": {"name": "never"},
                "overload": {"name": "thr", "params": {"threshold": 0.8}},
                "selection": {"name": "mmt-max-cpu", "params": {"last_n": 2}},
                "max_vms_per_request": 1,
            },
        }
    return common | {
        "intervals": intervals | {"collect_s": B_COLLECT_S},
        "usable_cpu_fraction": 1.0,
        "overload_threshold": 1.0,
        "local_manager": {"underload": {"name": "never"}, "overload": {"name": "never"}},
    }


@dataclass(frozen=True)
class Agents:
    a: Service
    b: Service

    @property
    def both(self) -> tuple[Service, Service]:
        return (self.a, self.b)


@pytest.fixture
def agents(
    tmp_path: Path, lab: Lab, guests: Guests, controller: Controller, timings: Timings
) -> Iterator[Agents]:
    """One agent process per lab host, stopped with SIGTERM (they finish running migrations).

    Both daemons are asked for their host facts first (a fresh libvirtd takes seconds to
    describe its host the first time); meanwhile the idle guest finishes booting. Then the
    test waits until it idles, so that the agents' first interval does not mistake its
    firmware's work for load.
    """
    start = time.monotonic()
    uris = {HOST_A: lab.uri_a, HOST_B: lab.uri_b}
    with ThreadPoolExecutor(len(uris)) as pool:
        list(pool.map(host_mhz, uris.values()))
    timings.mark("daemons_probed_s", time.monotonic() - start)
    with Daemon(lab.uri_a) as daemon_a:
        settled = wait_until_idle(daemon_a, guests.idle, guests.busy, stall_s=STALL_S)
    timings.mark("idle_guest_settled_s", settled)
    url = str(controller.client.base_url)
    services: list[Service] = []
    try:
        for host, uri in uris.items():
            path = write_yaml(tmp_path / f"{host}.yaml", agent_config(tmp_path, host, uri, url))
            services.append(start_service(host, ["agent", "--config", str(path)], tmp_path))
        yield Agents(services[0], services[1])
    finally:
        for service in services:
            service.stop()


@dataclass(frozen=True)
class Seen:
    """One look at the whole system: the controller's records and both daemons."""

    heartbeats: dict[str, int]  # heartbeats noticed per host (changes of last_heartbeat)
    host_samples: dict[str, int]  # samples stored per host
    hypervisor_mhz: dict[str, float]  # each host's overhead in its latest sample
    vm_mhz: dict[str, tuple[float, ...]]  # each guest's stored samples, oldest first
    requests: tuple[RequestView, ...]  # A's requests, oldest first
    plans: tuple[PlanOut, ...]
    attempts: tuple[MigrationOut, ...]  # the busy guest's migration attempts
    placed: dict[str, str | None]  # guest → host, as the controller records it
    running_on: dict[str, tuple[str, ...]]  # guest → hosts whose libvirtd runs it
    migration_bytes: int | None  # transferred by the busy guest's migration job on A
    agents_cpu_s: float

    def samples(self, host: str) -> int:
        return self.host_samples.get(host, 0)

    def refused(self) -> list[RequestView]:
        """A's requests the controller answered without a plan."""
        return [
            r
            for r in self.requests
            if r.outcome is not None and r.outcome.final and r.outcome != RequestOutcome.PLANNED
        ]

    def action(self, busy: str) -> tuple[PlanOut, ActionOut] | None:
        """The plan and action migrating ``busy`` from A to B, if any."""
        for plan in self.plans:
            for action in plan.actions:
                if (action.kind, action.vm_uuid, action.source, action.destination) == (
                    "migrate",
                    busy,
                    HOST_A,
                    HOST_B,
                ):
                    return plan, action
        return None


class Watch:
    """Observes the controller (API and database) and both libvirtds; counts heartbeats."""

    def __init__(self, controller: Controller, lab: Lab, guests: Guests, agents: Agents) -> None:
        self._controller = controller
        self._guests = guests
        self._agents = agents
        # B is asked before A: a guest that B runs at the first look and A still runs at the
        # later one ran on both at once, since a guest never runs on A again once it left.
        self._daemons = {HOST_B: Daemon(lab.uri_b), HOST_A: Daemon(lab.uri_a)}
        self._last_heard: dict[str, datetime | None] = {}
        self._heartbeats: dict[str, int] = {HOST_A: 0, HOST_B: 0}
        self.machine_before = MachineCpu.read()

    def close(self) -> None:
        for daemon in self._daemons.values():
            daemon.close()

    def __call__(self) -> Seen:
        controller, busy = self._controller, self._guests.busy
        for name, host in controller.hosts().items():
            if host.last_heartbeat not in (None, self._last_heard.get(name)):
                self._last_heard[name] = host.last_heartbeat
                self._heartbeats[name] = self._heartbeats.get(name, 0) + 1
        host_samples = controller.store.read(last_host_samples, ALL_SAMPLES)
        vm_samples = controller.store.read(last_vm_samples, ALL_SAMPLES)
        requests = controller.store.read(list_requests, limit=1000)
        attempts = tuple(m for m in controller.migrations() if m.vm_uuid == busy)
        moving = any(m.outcome is None for m in attempts)
        found = {
            (uuid, host): daemon.domain(uuid, job=moving and uuid == busy and host == HOST_A)
            for uuid in self._guests.both
            for host, daemon in self._daemons.items()
        }
        on_a = found[busy, HOST_A]
        return Seen(
            heartbeats=dict(self._heartbeats),
            host_samples={h: len(s) for h, s in host_samples.items()},
            hypervisor_mhz={h: s[-1].hypervisor_mhz for h, s in host_samples.items() if s},
            vm_mhz={
                uuid: tuple(s.cpu_mhz for s in vm_samples.get(uuid, ()))
                for uuid in self._guests.both
            },
            requests=tuple(r for r in reversed(requests) if r.host == HOST_A),
            plans=tuple(controller.plans()),
            attempts=attempts,
            placed={uuid: vm.host for uuid, vm in controller.vms().items()},
            running_on={
                uuid: tuple(h for h in self._daemons if (d := found[uuid, h]) and d.running)
                for uuid in self._guests.both
            },
            migration_bytes=None if on_a is None else on_a.job_bytes,
            agents_cpu_s=sum(s.cpu_s() for s in self._agents.both),
        )

    def progress(self, seen: Seen) -> Hashable:
        """What changes while the system works (heartbeats included)."""
        return (
            tuple(sorted(seen.heartbeats.items())),
            tuple(sorted(seen.host_samples.items())),
            tuple((r.id, r.outcome) for r in seen.requests),
            tuple((p.id, p.state, tuple(a.state for a in p.actions)) for p in seen.plans),
            tuple((m.id, m.outcome) for m in seen.attempts),
            tuple(sorted(seen.placed.items(), key=str)),
            seen.migration_bytes,
            round(seen.agents_cpu_s, 1) if not all(seen.heartbeats.values()) else None,
        )

    def describe(self, seen: Seen) -> str:
        busy = self._guests.busy
        role = {busy: "busy", self._guests.idle: "idle"}
        requests = [
            f"#{r.id} {r.reason.value} {[role.get(u, u) for u in r.vm_uuids]}: "
            f"{r.outcome.value if r.outcome else 'pending'} ({r.note})"
            for r in seen.requests
        ]
        overhead = {h: seen.hypervisor_mhz.get(h, "no sample") for h in (HOST_A, HOST_B)}
        return "\n".join(
            [
                f"heartbeats noticed: {seen.heartbeats}; host samples stored: {seen.host_samples}",
                f"hypervisor MHz in the latest host samples: {overhead}",
                f"guests' MHz samples: { {role[u]: v for u, v in seen.vm_mhz.items()} }",
                f"requests of {HOST_A}: {requests}",
                f"plans: {[(p.id, p.state, p.reason, p.actions) for p in seen.plans]}",
                f"attempts of the busy guest: {seen.attempts}",
                f"migration bytes on {HOST_A}: {seen.migration_bytes}",
                f"controller places: { {role.get(u, u): h for u, h in seen.placed.items()} }",
                f"libvirt runs: { {role[u]: h for u, h in seen.running_on.items()} }",
                f"machine CPU busy {self.machine_busy():.0%} since the agents started",
            ]
        )

    def machine_busy(self) -> float:
        return MachineCpu.read().busy_fraction_since(self.machine_before)


def scenario(guests: Guests) -> list[Stage[Seen]]:
    """The stages from the agents' start to the busy guest recorded on B, with budgets.

    Counting A's collections (every ``COLLECT_S``) rather than seconds: each one measures,
    decides and, when overloaded, asks; a busy machine delays them a little but does not
    need more of them.
    """
    busy = guests.busy

    def samples_of(host: str) -> Callable[[Seen], float]:
        return lambda seen: seen.samples(host)

    def heartbeats_of(host: str) -> Callable[[Seen], float]:
        return lambda seen: seen.heartbeats.get(host, 0)

    collections_a = f"collections of {HOST_A}"

    def action_ended(seen: Seen) -> str | None:
        found = seen.action(busy)
        if found is not None and found[1].state in ("failed", "cancelled", "skipped"):
            return f"the migration action ended {found[1].state}: {found[1].last_error}"
        return None

    def asked(seen: Seen) -> bool:
        return any(r.reason.value == "overload" and busy in r.vm_uuids for r in seen.requests)

    return [
        Stage(
            "registered_s",
            "both agents registered",
            lambda seen: all(seen.heartbeats.get(h, 0) for h in (HOST_A, HOST_B)),
            (Budget("CPU seconds of the agents", lambda seen: seen.agents_cpu_s, STARTUP_CPU_S),),
        ),
        Stage(
            "first_sample_a_s",
            f"a first sample of {HOST_A}",
            lambda seen: seen.samples(HOST_A) >= 1,
            (
                Budget(
                    f"heartbeats of {HOST_A}",
                    heartbeats_of(HOST_A),
                    2 * COLLECT_S / HEARTBEAT_S + 3,
                ),
            ),
        ),
        Stage(
            "request_a_s",
            f"an overload request of {HOST_A} naming the busy guest",
            asked,
            (Budget(collections_a, samples_of(HOST_A), 3),),
        ),
        Stage(
            "plan_s",
            "a plan migrating the busy guest from A to B",
            lambda seen: seen.action(busy) is not None,
            (
                Budget(
                    f"requests of {HOST_A} answered without a plan", lambda s: len(s.refused()), 2
                ),
                Budget(collections_a, samples_of(HOST_A), 4),
            ),
        ),
        Stage(
            "migration_started_s",
            "the busy guest's migration started",
            lambda seen: bool(seen.attempts),
            (Budget(collections_a, samples_of(HOST_A), 3),),
            action_ended,
        ),
        Stage(
            "migration_succeeded_s",
            "the busy guest's migration succeeded",
            lambda seen: any(m.outcome == "succeeded" for m in seen.attempts),
            (
                Budget(
                    f"{collections_a} without migration progress",
                    samples_of(HOST_A),
                    3,
                    restart=lambda seen: (seen.migration_bytes, seen.attempts),
                ),
            ),
            action_ended,
        ),
        Stage(
            "recorded_on_b_s",
            "the controller records the busy guest on B",
            lambda seen: seen.placed.get(busy) == HOST_B,
            (Budget(f"heartbeats of {HOST_B}", heartbeats_of(HOST_B), 3),),
        ),
    ]


def test_busy_guest_is_live_migrated_from_a_to_b_on_measured_overload(
    lab: Lab,
    guests: Guests,
    controller: Controller,
    agents: Agents,
    timings: Timings,
) -> None:
    services = (controller.service, agents.a, agents.b)
    watch = Watch(controller, lab, guests, agents)

    def on_one_host(seen: Seen) -> str | None:
        twice = {u: h for u, h in seen.running_on.items() if len(h) > 1}
        return f"guests running on two hosts at once: {twice}" if twice else None

    try:
        reached = follow(
            scenario(guests),
            watch,
            progress=watch.progress,
            stall_s=STALL_S,
            services=services,
            describe=watch.describe,
            invariant=on_one_host,
        )
        seen = watch()
    finally:
        watch.close()
    for key, at in reached.items():
        timings.mark(key, at)
    timings.mark("machine_busy_fraction", watch.machine_busy())
    timings.mark("collections_of_a", seen.samples(HOST_A))
    timings.mark("requests_of_a", len(seen.requests))

    # B's libvirtd runs the guest (persistently) and gives it CPU; A's has no trace of it.
    on_a, on_b = domain_on(lab.uri_a, guests.busy), domain_on(lab.uri_b, guests.busy)
    assert on_a is None, f"the busy guest is still defined on A: {on_a}"
    assert on_b is not None and on_b.active and on_b.persistent, on_b
    with Daemon(lab.uri_b) as daemon_b:
        ran = wait_until_running(daemon_b, guests.busy, cpu_s=0.2, stall_s=STALL_S)
    timings.mark("busy_guest_ran_on_b_s", ran)

    # The controller's record: one successful attempt A → B, an action of an overload plan for A.
    [done] = [m for m in seen.attempts if m.outcome == "succeeded"]
    assert (done.source, done.destination) == (HOST_A, HOST_B), done
    assert done.finished_at is not None and done.error is None, done
    timings.mark("migration_recorded_s", (done.finished_at - done.started_at).total_seconds())
    found = seen.action(guests.busy)
    assert found is not None and found[1].id == done.action_id, (found, done)
    assert found[0].reason == f"overload of {HOST_A}", found[0]

    # The decision rested on real CPU time: A's agent measured the busy guest using far more
    # of a core than the idle one, and the controller knew no hypervisor overhead for B.
    core_mhz_a = host_mhz(lab.uri_a)
    busy_mhz, idle_mhz = seen.vm_mhz[guests.busy], seen.vm_mhz[guests.idle]
    assert busy_mhz and idle_mhz, seen.vm_mhz
    timings.mark("busy_guest_cores_on_a", max(busy_mhz) / core_mhz_a)
    timings.mark("idle_guest_cores_on_a", max(idle_mhz) / core_mhz_a)
    assert max(busy_mhz) > 0.05 * core_mhz_a, seen.vm_mhz
    assert max(busy_mhz) > 3 * max(idle_mhz), seen.vm_mhz
    assert seen.samples(HOST_B) == 0, seen.host_samples
    assert controller.hosts()[HOST_B].power_state == "active"

    # Agents and controller stop gracefully on SIGTERM (an agent first ends its migrations).
    stop_from = time.monotonic()
    statuses = {s.name: s.stop() for s in (agents.a, agents.b, controller.service)}
    timings.mark("services_stop_s", time.monotonic() - stop_from)
    logs = "\n".join(s.log_tail() for s in services)
    assert statuses == {HOST_A: 0, HOST_B: 0, "controller": 0}, f"{statuses}\n{logs}"

    # With nothing moving any more, every guest is defined on exactly one host and runs there.
    for uuid in guests.both:
        where = {h: domain_on(u, uuid) for h, u in ((HOST_A, lab.uri_a), (HOST_B, lab.uri_b))}
        defined = {h: d for h, d in where.items() if d is not None}
        assert len(defined) == 1, f"guest {uuid} is defined on {sorted(defined)}"
        assert all(d.active for d in defined.values()), defined
