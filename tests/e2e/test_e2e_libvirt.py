"""End to end on real libvirt: a busy guest overloads host A and is live-migrated to host B.

Everything is real except host power: two libvirtd daemons of the lab (``scripts/libvirt-lab.sh``),
tiny QEMU/KVM guests, a controller process (SQLite, automatic mode, simulated power) and one agent
process per host. The agents measure the guests' CPU time, host A's local manager asks for relief,
the controller plans and hands the migration to A's agent, which live-migrates the guest. The test
then asks B's libvirtd itself where the guest runs, and the controller's API how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetwise.api.schemas import HostOut, MigrationOut, PlanOut, VmOut
from fleetwise.controller.tokens import hash_token
from fleetwise.drivers.hypervisor.lab_guests import GuestLoad, LabGuest, start_guest, write_disk
from fleetwise.drivers.hypervisor.libvirt_driver import LibvirtHypervisor
from tests.helpers.libvirt_e2e import (
    Lab,
    MachineCpu,
    Service,
    cores_used,
    domain_on,
    free_port,
    lab_unavailable,
    running_lab,
    start_service,
    wait_for,
    write_yaml,
)

pytestmark = [pytest.mark.slow, pytest.mark.libvirt_real, pytest.mark.timeout(300)]

HOST_A, HOST_B = "host-a", "host-b"
ADMIN_TOKEN = "e2e-admin-token-for-the-libvirt-lab"
CHEAP_HASH_COST = 10  # log2 of scrypt's n: the tokens only guard a loopback test
COLLECT_S = 5.0
MIGRATION_DEADLINE_S = 90.0
B_SPEED_FACTOR = 10.0


def agent_token(host: str) -> str:
    return f"e2e-agent-token-of-{host}"


@dataclass
class Timings:
    """Measured figures (seconds, or cores where the name says so), kept as test properties."""

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
    """The controller process and an admin client of its API."""

    service: Service
    client: httpx.Client

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
    config = {
        "state_dir": str(tmp_path / "controller"),
        "listen": {"host": "127.0.0.1", "port": port},
        "admin_token_hash": str(hash_token(ADMIN_TOKEN, log2_n=CHEAP_HASH_COST)),
        "hosts": hosts,
        "mode": "automatic",
        # Caps at 100 %: host B's capacity is set up below so that the busy guest fits.
        "global_manager": {
            "placement": {"name": "bfd", "params": {"cpu_threshold": 1.0, "ram_threshold": 0.95}},
            "spare_hosts": 1,
        },
        "plan_round_spacing_s": 2,
        "executor_spacing_s": 1,
        "migration_timeout_s": 60,
        "heartbeat_timeout_s": 60,
    }
    path = write_yaml(tmp_path / "controller.yaml", config)
    start = time.monotonic()
    service = start_service("controller", ["controller", "--config", str(path)], tmp_path)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    running = Controller(service, client)

    def healthy() -> bool:
        try:
            return client.get("/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, 60, "the controller's API", services=(service,))
        timings.mark("controller_ready_s", time.monotonic() - start)
        yield running
    finally:
        client.close()
        service.stop()


def host_mhz(uri: str) -> float:
    with LibvirtHypervisor(uri) as hypervisor:
        return hypervisor.host_info().core_mhz


def agent_config(
    tmp_path: Path, host: str, uri: str, url: str, reported_mhz: float
) -> dict[str, Any]:
    """An agent of the lab: libvirt at ``uri``, migrations over loopback without shared storage.

    ``reported_mhz`` is the core frequency the host's libvirtd reports.

    Both lab hosts are this one machine, and each agent measures the machine's CPU time, so
    each host counts the other host's guests as its own hypervisor overhead. Hence:

    * Host A may use half the machine (``usable_cpu_fraction`` 0.5, one core). The busy guest
      alone keeps that core full, so A's utilisation is at least 1.0, above THR's 0.8; without
      it the rest of the machine (idle guest, daemons, services) uses well under 0.8 of a core,
      so the selection (MMT-max-CPU: equal RAM, then the highest measured CPU) picks the busy
      guest and stops there (on a machine busy with other work it adds the idle guest too).
      After the move A still counts the guest's core as its overhead and asks again, for the
      idle guest; the test does not depend on that. Underload detection is off: this scenario
      is about overload.
    * Host B is declared with cores ten times as fast as they are (``core_mhz``). Its measured
      overhead already contains the busy guest (which spins on the same cores), so at its true
      speed B could never show room for the guest: overhead + guest > 100 %. The factor leaves
      B's own utilisation ratio unchanged but makes the guest, measured in A's MHz, a tenth of a
      core of B. With the controller's 100 % cap it fits while the machine is below ~95 % busy.
      B's detectors are off: it only receives.
    """
    common: dict[str, Any] = {
        "host": host,
        "controller_url": url,
        "agent_token": agent_token(host),
        "state_dir": str(tmp_path / host),
        "intervals": {
            "collect_s": COLLECT_S,
            "heartbeat_s": 2,
            "assignment_poll_s": 1,
            "delivery_s": 1,
        },
        "http": {"timeout_s": 5, "backoff_initial_s": 0.5, "backoff_max_s": 2},
    }
    hypervisor: dict[str, Any] = {
        "kind": "libvirt",
        "uri": uri,
        "migration_uri": "tcp://127.0.0.1",
        "allow_unsafe": True,  # no shared storage: the lab's disks are local files
    }
    if host == HOST_A:
        return common | {
            "hypervisor": hypervisor,
            "usable_cpu_fraction": 0.5,
            "overload_threshold": 0.8,
            "local_manager": {
                "underload": {"name": "never"},
                "overload": {"name": "thr", "params": {"threshold": 0.8}},
                "selection": {"name": "mmt-max-cpu", "params": {"last_n": 2}},
            },
        }
    return common | {
        "hypervisor": hypervisor | {"core_mhz": B_SPEED_FACTOR * reported_mhz},
        "usable_cpu_fraction": 1.0,
        "overload_threshold": 1.0,
        "local_manager": {"underload": {"name": "never"}, "overload": {"name": "never"}},
    }


@dataclass(frozen=True)
class Agents:
    a: Service
    b: Service
    started_at: float


@pytest.fixture
def agents(
    tmp_path: Path, lab: Lab, guests: Guests, controller: Controller, timings: Timings
) -> Iterator[Agents]:
    """One agent process per lab host, stopped with SIGTERM (they finish running migrations).

    Both daemons are asked for their host facts first (a fresh libvirtd takes seconds to
    describe its host the first time, and the agents should not start that far apart);
    meanwhile the idle guest finishes booting. Then the test waits until it idles, so that
    the agents' first interval does not mistake its firmware's work for load.
    """
    start = time.monotonic()
    uris = {HOST_A: lab.uri_a, HOST_B: lab.uri_b}
    with ThreadPoolExecutor(len(uris)) as pool:
        core_mhz = dict(zip(uris, pool.map(host_mhz, uris.values()), strict=True))
    timings.mark("daemons_probed_s", time.monotonic() - start)
    wait_for(lambda: cores_used(lab.uri_a, guests.idle, 0.5) < 0.05, 30, "the idle guest to idle")
    timings.mark("idle_guest_settled_s", time.monotonic() - start)
    url = str(controller.client.base_url)
    services: list[Service] = []
    try:
        for host, uri in uris.items():
            config = agent_config(tmp_path, host, uri, url, core_mhz[host])
            path = write_yaml(tmp_path / f"{host}.yaml", config)
            services.append(start_service(host, ["agent", "--config", str(path)], tmp_path))
        yield Agents(services[0], services[1], time.monotonic())
    finally:
        for service in services:
            service.stop()


def test_busy_guest_is_live_migrated_from_a_to_b_on_measured_overload(
    lab: Lab,
    guests: Guests,
    controller: Controller,
    agents: Agents,
    timings: Timings,
) -> None:
    services = (controller.service, agents.a, agents.b)
    core_mhz_a = host_mhz(lab.uri_a)
    measured: dict[str, list[float]] = {guests.busy: [], guests.idle: []}
    attempts: list[MigrationOut] = []
    machine_before = MachineCpu.read()

    def machine_load() -> str:
        busy = MachineCpu.read().busy_fraction_since(machine_before)
        return f"machine CPU busy {busy:.0%} meanwhile (B has room below ~95 %)"

    def busy_guest_moved() -> bool:
        for vm in controller.vms().values():
            if vm.uuid in measured and vm.host == HOST_A and vm.cpu_mhz is not None:
                measured[vm.uuid].append(vm.cpu_mhz)
        attempts[:] = [m for m in controller.migrations() if m.vm_uuid == guests.busy]
        return any(m.outcome == "succeeded" for m in attempts)

    waited = wait_for(
        busy_guest_moved,
        MIGRATION_DEADLINE_S,
        "the controller to record the busy guest's migration as succeeded",
        every_s=0.5,
        services=services,
        details=lambda: f"attempts: {attempts}\nmeasured MHz on A: {measured}\n{machine_load()}",
    )
    timings.mark("machine_busy_fraction", MachineCpu.read().busy_fraction_since(machine_before))
    timings.mark("agents_start_to_migration_recorded_s", time.monotonic() - agents.started_at)
    timings.mark("waited_for_migration_s", waited)

    # B's libvirtd runs the guest (persistently), A's has no trace of it.
    on_a, on_b = domain_on(lab.uri_a, guests.busy), domain_on(lab.uri_b, guests.busy)
    assert on_a is None, f"the busy guest is still defined on A: {on_a}"
    assert on_b is not None and on_b.active and on_b.persistent, on_b
    assert cores_used(lab.uri_b, guests.busy, 1.0) > 0.2, "the guest does not run on B"

    # The controller's record: one successful attempt A → B, an action of an overload plan for A.
    [done] = [m for m in attempts if m.outcome == "succeeded"]
    assert (done.source, done.destination) == (HOST_A, HOST_B), done
    assert done.finished_at is not None and done.error is None, done
    timings.mark(
        "migration_recorded_duration_s", (done.finished_at - done.started_at).total_seconds()
    )
    [(plan, action)] = [
        (p, a) for p in controller.plans() for a in p.actions if a.id == done.action_id
    ]
    assert plan.reason == f"overload of {HOST_A}", plan
    assert (action.kind, action.vm_uuid, action.source, action.destination) == (
        "migrate",
        guests.busy,
        HOST_A,
        HOST_B,
    )

    # The decision rested on real CPU time: the agents measured the busy guest using a
    # large share of a core, far more than the idle one.
    assert measured[guests.busy] and measured[guests.idle], measured
    busy_mhz, idle_mhz = max(measured[guests.busy]), max(measured[guests.idle])
    timings.mark("busy_guest_cores_on_a", busy_mhz / core_mhz_a)
    timings.mark("idle_guest_cores_on_a", idle_mhz / core_mhz_a)
    assert busy_mhz > 0.25 * core_mhz_a, measured
    assert busy_mhz > 3 * idle_mhz, measured

    # B's agent reports the guest, so the controller's inventory follows it to B; B stays awake.
    wait_for(
        lambda: controller.vms()[guests.busy].host == HOST_B,
        20,
        "the controller to place the busy guest on B",
        services=services,
    )
    assert controller.hosts()[HOST_B].power_state == "active"

    # Agents and controller stop gracefully on SIGTERM (an agent first ends its migrations).
    stop_from = time.monotonic()
    statuses = {s.name: s.stop() for s in (agents.a, agents.b, controller.service)}
    timings.mark("services_stop_s", time.monotonic() - stop_from)
    logs = "\n".join(s.log_tail() for s in services)
    assert statuses == {HOST_A: 0, HOST_B: 0, "controller": 0}, f"{statuses}\n{logs}"
