"""A controller under test: real app, store, services and simulated power, on virtual time."""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from httpx2 import Response

from fleetwise.controller.api import create_app
from fleetwise.controller.config import ControllerConfig
from fleetwise.controller.context import ControllerContext, build_context
from fleetwise.controller.executor import ExecutorService
from fleetwise.controller.global_manager import GlobalManagerService
from fleetwise.controller.power import SinglePower
from fleetwise.controller.tokens import hash_token
from fleetwise.core.lifecycle import HostPowerState
from fleetwise.drivers.power.base import PowerState
from fleetwise.drivers.power.simulated import SimulatedPowerDriver
from fleetwise.service import VirtualClock
from fleetwise.store.inventory import set_host_power_state
from fleetwise.store.views import HostView, PlanView

__all__ = [
    "ADMIN",
    "ADMIN_TOKEN",
    "HOSTS",
    "T0",
    "Harness",
    "HarnessFactory",
    "agent_token",
    "host_view",
    "make_config",
    "simulated_power",
    "token_hashes",
    "vm",
    "vm_uuid",
]

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
HOSTS = ("h1", "h2", "h3", "h4", "h5", "h6", "h7")
ADMIN = "admin"
ADMIN_TOKEN = "admin-token-for-the-tests"
TEST_COST = 10  # log2 of scrypt's n: cheap hashes keep the tests fast


def agent_token(host: str) -> str:
    """The token of ``host``'s agent."""
    return f"agent-token-of-{host}-for-tests"


@functools.cache
def token_hashes() -> tuple[str, tuple[tuple[str, str], ...]]:
    """Hashes of the admin token and of each host's agent token (made once)."""
    admin = str(hash_token(ADMIN_TOKEN, log2_n=TEST_COST))
    agents = tuple((h, str(hash_token(agent_token(h), log2_n=TEST_COST))) for h in HOSTS)
    return admin, agents


def make_config(tmp_path: Path, **overrides: Any) -> ControllerConfig:
    """A configuration on a SQLite file under ``tmp_path`` knowing every test host."""
    admin, agents = token_hashes()
    raw: dict[str, Any] = {
        "state_dir": str(tmp_path / "state"),
        "admin_token_hash": admin,
        "hosts": [{"name": h, "token_hash": digest} for h, digest in agents],
    }
    raw.update(overrides)
    return ControllerConfig.model_validate(raw)


def host_view(name: str, state: HostPowerState, registered_s: float = 0.0) -> HostView:
    """A stored host's view as the store would return it (8000 MHz, 16 GiB)."""
    return HostView(
        id=1,
        name=name,
        cpu_cores=4,
        core_mhz=2000,
        cpu_mhz=8000,
        ram_mb=16384,
        mac=None,
        power_address=None,
        power_kind=None,
        hypervisor_uri=f"qemu+tcp://{name}/system",
        migration_uri=None,
        power_state=state,
        maintenance=False,
        last_heartbeat=None,
        registered_at=T0 + timedelta(seconds=registered_s),
        updated_at=T0,
    )


def vm_uuid(n: int) -> str:
    """A readable UUID for VM number ``n``."""
    return str(uuid.UUID(int=n))


def vm(n: int, *, ram_mb: int = 1024, vcpus: int = 1, state: str = "running") -> dict[str, Any]:
    """An agent's report of VM number ``n``."""
    return {"uuid": vm_uuid(n), "name": f"vm{n}", "vcpus": vcpus, "ram_mb": ram_mb, "state": state}


class Harness:
    """One controller: its context, HTTP client, global manager and executor."""

    def __init__(
        self,
        config: ControllerConfig,
        clock: VirtualClock,
        power: SimulatedPowerDriver,
    ) -> None:
        self.config = config
        self.clock = clock
        self.power = power
        self.context: ControllerContext = build_context(
            config,
            clock=clock,
            power=SinglePower(power),
        )
        self.app = create_app(self.context)
        self.client = TestClient(self.app)
        self.client.__enter__()  # one event loop for every request of this harness
        self.global_manager = GlobalManagerService(self.context)
        self.executor = ExecutorService(self.context)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.client.__exit__(None, None, None)
            self.context.close()

    # -- time ----------------------------------------------------------------
    def now(self) -> datetime:
        return self.context.now()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- HTTP ----------------------------------------------------------------
    @staticmethod
    def headers(principal: str | None) -> dict[str, str]:
        if principal is None:
            return {}
        token = ADMIN_TOKEN if principal == ADMIN else agent_token(principal)
        return {"Authorization": f"Bearer {token}"}

    def call(
        self, method: str, path: str, principal: str | None = ADMIN, json: Any = None
    ) -> Response:
        return self.client.request(method, path, headers=self.headers(principal), json=json)

    def ok(self, method: str, path: str, principal: str | None = ADMIN, json: Any = None) -> Any:
        response = self.call(method, path, principal, json)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    def register(
        self,
        host: str,
        vms: Iterable[Mapping[str, Any]] = (),
        *,
        cores: int = 4,
        core_mhz: float = 2000.0,
        ram_mb: int = 16384,
    ) -> Any:
        body = {
            "cpu_cores": cores,
            "core_mhz": core_mhz,
            "ram_mb": ram_mb,
            "hypervisor_uri": f"qemu+tcp://{host}/system",
            "vms": list(vms),
        }
        return self.ok("PUT", f"/v1/agents/{host}", host, body)

    def heartbeat(self, host: str, vms: Iterable[Mapping[str, Any]] | None = None) -> None:
        body: dict[str, Any] = {"sent_at": self.now().isoformat()}
        if vms is not None:
            body["vms"] = list(vms)
        self.ok("POST", f"/v1/agents/{host}/heartbeat", host, body)

    def samples(self, host: str, cpu: Mapping[int, float], *, hypervisor: float = 0.0) -> int:
        body = {
            "taken_at": self.now().isoformat(),
            "host_cpu_mhz": sum(cpu.values()) + hypervisor,
            "hypervisor_mhz": hypervisor,
            "vms": [{"uuid": vm_uuid(n), "cpu_mhz": mhz} for n, mhz in cpu.items()],
        }
        stored: int = self.ok("POST", f"/v1/agents/{host}/samples", host, body)["stored"]
        return stored

    def reallocate(
        self, host: str, reason: str, vms: Iterable[int] = (), *, age_s: float = 0.0
    ) -> Response:
        body = {
            "host": host,
            "reason": reason,
            "vm_uuids": [vm_uuid(n) for n in vms],
            "sent_at": (self.now() - timedelta(seconds=age_s)).isoformat(),
        }
        return self.call("PUT", "/v1/reallocations", host, body)

    # -- managers ------------------------------------------------------------
    def plan_round(self) -> PlanView | None:
        return self.global_manager.plan_round()

    def execute(self) -> None:
        self.executor.execute()

    def plan(self, plan_id: int) -> Any:
        return self.ok("GET", f"/v1/plans/{plan_id}")

    def assignments(self, host: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("GET", f"/v1/agents/{host}/assignments", host)
        return found

    def finish_assignments(self, host: str, *, ok: bool = True, error: str = "") -> list[Any]:
        """Play the agent of ``host``: report every assignment as done (or failed)."""
        done = self.assignments(host)
        for assignment in done:
            self.ok(
                "POST",
                f"/v1/actions/{assignment['action_id']}/result",
                host,
                {"ok": ok, "error": error},
            )
        return done

    def build_fleet(self, layout: Mapping[str, Mapping[int, float]]) -> None:
        """Register each host with its VMs and report two samples of their CPU use (MHz)."""
        for host, vms in layout.items():
            self.register(host, [vm(n) for n in vms])
        for _ in range(2):
            self.advance(1)
            for host, vms in layout.items():
                self.samples(host, vms)

    def state_of(self, plan_id: int) -> tuple[str, list[tuple[str, str]]]:
        """A plan's state and its actions' (kind, state) pairs."""
        plan = self.plan(plan_id)
        return plan["state"], [(a["kind"], a["state"]) for a in plan["actions"]]

    def vm_hosts(self) -> dict[int, str | None]:
        """VM number → the host the controller records it on."""
        return {int(uuid.UUID(v["uuid"])): v["host"] for v in self.ok("GET", "/v1/vms")}

    def put_to_sleep(self, host: str) -> None:
        """Record ``host`` asleep (as if a past plan had put it to sleep)."""
        now = self.now()
        store = self.context.store
        store.run(
            set_host_power_state,
            host,
            HostPowerState.ACTIVE,
            HostPowerState.GOING_TO_SLEEP,
            now=now,
            reason="test set-up",
        )
        store.run(
            set_host_power_state,
            host,
            HostPowerState.GOING_TO_SLEEP,
            HostPowerState.ASLEEP,
            now=now,
            reason="test set-up",
        )
        self.power.sleep(host)


def simulated_power(clock: VirtualClock, *, wake_latency_s: float = 30.0) -> SimulatedPowerDriver:
    """Simulated power control of every test host, all on."""
    return SimulatedPowerDriver(
        clock,  # type: ignore[arg-type]
        dict.fromkeys(HOSTS, PowerState.ON),
        wake_latency_s=wake_latency_s,
    )


HarnessFactory = Callable[..., Harness]
"""Builds controllers on one state directory (the ``make_harness`` fixture)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_controller_process(
    config: Path, base: str, *, stderr: int | None = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """Run ``fleetwise controller --config`` and wait until it answers on ``base``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetwise", "controller", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the controller exited: {err}")
        try:
            if httpx.get(f"{base}/v1/health", headers=headers).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
        if time.monotonic() >= deadline:
            process.kill()
            raise AssertionError("the controller did not come up")
