"""Shared pieces of the agent tests: a scripted fake controller, fleets and agents."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from fleetwise.agent.config import AgentConfig, parse_config
from fleetwise.agent.service import Agent
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.simulated import SimulatedFleet, SimulatedHost, SimulatedVm
from fleetwise.service.clock import VirtualClock

TOKEN = "s3cret-agent-token"
STEP = 300.0
VM1 = "00000000-0000-4000-8000-000000000001"
VM2 = "00000000-0000-4000-8000-000000000002"
VM3 = "00000000-0000-4000-8000-000000000003"


@dataclass
class Call:
    """One request the fake controller received."""

    method: str
    path: str
    body: Any
    authorization: str | None
    answered: bool = True

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FakeController:
    """Answers the agent endpoints like the controller would, and records every call.

    ``fail(route, *faults)`` makes the next requests on ``route`` (``"PUT
    /v1/reallocations"``, or a regular expression over "METHOD path") fail in turn:
    ``"connect"`` raises a connection error, an int answers with that status; ``down``
    refuses every connection. Attempts are recorded either way. Like the
    real controller, it stops assigning an action once it has the action's result.
    """

    calls: list[Call] = field(default_factory=list)
    down: bool = False
    assignments: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[str, list[str | int]]] = field(default_factory=list)
    _ids: int = 0

    def fail(self, route: str, *faults: str | int) -> None:
        self.faults.append((route, list(faults)))

    def routes(self, pattern: str, *, answered_only: bool = False) -> list[Call]:
        """Attempts on matching routes (including refused connections), oldest first."""
        return [
            c
            for c in self.calls
            if re.fullmatch(pattern, c.route) and (c.answered or not answered_only)
        ]

    def bodies(self, pattern: str, *, answered_only: bool = False) -> list[Any]:
        return [c.body for c in self.routes(pattern, answered_only=answered_only)]

    def _fault(self, route: str) -> str | int | None:
        for pattern, queue in self.faults:
            if queue and (pattern == route or re.fullmatch(pattern, route)):
                return queue.pop(0)
        return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        call = Call(request.method, request.url.path, body, request.headers.get("authorization"))
        self.calls.append(call)
        fault = "connect" if self.down else self._fault(call.route)
        if fault == "connect":
            call.answered = False
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(fault, int):
            return httpx.Response(fault, json={"detail": f"scripted {fault}"})
        if call.authorization != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"detail": "missing or wrong token"})
        return self._answer(call)

    def _answer(self, call: Call) -> httpx.Response:
        path = call.path
        if call.method == "PUT" and re.fullmatch(r"/v1/agents/[^/]+", path):
            return httpx.Response(
                200,
                json={
                    "name": path.rsplit("/", 1)[1],
                    "power_state": "on",
                    "maintenance": False,
                    "cpu_mhz": call.body["cpu_cores"] * call.body["core_mhz"],
                    "ram_mb": call.body["ram_mb"],
                    "vms": len(call.body["vms"]),
                },
            )
        if path.endswith("/result"):
            done = int(path.split("/")[3])
            self.assignments = [a for a in self.assignments if a["action_id"] != done]
            return httpx.Response(204)
        if path.endswith("/heartbeat") or path.endswith("/progress"):
            return httpx.Response(204)
        if path.endswith("/samples"):
            return httpx.Response(200, json={"stored": len(call.body["vms"]) + 1})
        if path == "/v1/reallocations":
            self._ids += 1
            return httpx.Response(202, json={"request_id": self._ids})
        if path.endswith("/assignments"):
            return httpx.Response(200, json=self.assignments)
        return httpx.Response(404, json={"detail": "no such endpoint"})


def config_for(state_dir: Path, **overrides: Any) -> AgentConfig:
    """A valid agent configuration for host ``a`` of a simulated fleet."""
    data: dict[str, Any] = {
        "host": "a",
        "controller_url": "http://127.0.0.1:8080",
        "agent_token": TOKEN,
        "state_dir": str(state_dir),
        "hypervisor": {"kind": "simulated", "fleet_path": str(state_dir / "unused.db")},
        "intervals": {"collect_s": STEP, "heartbeat_s": 30, "assignment_poll_s": 5},
        "http": {"backoff_initial_s": 1.0, "backoff_max_s": 8.0, "progress_every_s": 0},
    }
    data.update(overrides)
    return parse_config(data)


def trace_vm(
    uuid: str, fractions: list[float], *, vcpus: int = 1, ram_mb: int = 1000
) -> SimulatedVm:
    return SimulatedVm(uuid, f"vm-{uuid[-1]}", vcpus, ram_mb, CpuTrace.of(fractions, STEP))


def two_host_fleet(
    clock: VirtualClock, *, overhead_cores: float = 0.0, bandwidth_mb_s: float = 100.0
) -> SimulatedFleet:
    """Hosts ``a`` and ``b``: 4 cores of 2000 MHz and 8 GB each."""
    fleet = SimulatedFleet(clock, bandwidth_mb_s=bandwidth_mb_s)  # type: ignore[arg-type]
    for name in ("a", "b"):
        fleet.add_host(
            SimulatedHost(
                name, cores=4, core_mhz=2000.0, ram_mb=8192, overhead_cores=overhead_cores
            )
        )
    return fleet


def make_agent(
    config: AgentConfig,
    fleet: SimulatedFleet,
    clock: VirtualClock,
    controller: FakeController,
    host: str = "a",
) -> Agent:
    return Agent(
        config,
        hypervisor=fleet.hypervisor(host),
        clock=clock,
        transport=httpx.MockTransport(controller.handle),
        rng=random.Random(7),
    )


def vm_values(batch: Mapping[str, Any]) -> dict[str, float]:
    """``{uuid: MHz}`` of a sample batch as sent."""
    return {s["uuid"]: s["cpu_mhz"] for s in batch["vms"]}


class LoopbackController:
    """Serves a :class:`FakeController` over HTTP on 127.0.0.1 (for agent processes)."""

    def __init__(self, fake: FakeController) -> None:
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://127.0.0.1{self.path}",
                    headers=dict(self.headers.items()),
                    content=self.rfile.read(length),
                )
                with lock:
                    response = fake.handle(request)
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_PUT = do_POST = _serve  # noqa: N815 (names set by http.server)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
