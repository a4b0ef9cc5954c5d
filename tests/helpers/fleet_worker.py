"""A second process that works on a shared fleet file on request (for the fleet tests)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from pathlib import Path
from typing import Any

from fleetwise.drivers.hypervisor.base import MigrationTarget
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import FleetwiseError


def _do(fleet: SharedFleet, op: str, args: tuple[Any, ...]) -> Any:
    if op == "migrate":  # blocking, through the host's hypervisor
        uuid, source, destination = args
        result = fleet.hypervisor(source, poll_interval_s=0.5).migrate(
            uuid, MigrationTarget(destination)
        )
        return result.outcome.value
    if op == "list_vms":
        return [(vm.uuid, vm.state.value) for vm in fleet.list_vms(*args)]
    if op == "power":
        return fleet.power().status(*args).value
    if op in ("power_sleep", "power_wake"):
        driver = fleet.power()
        return (driver.sleep if op == "power_sleep" else driver.wake)(*args)
    return getattr(fleet, op)(*args)


def serve(conn: multiprocessing.connection.Connection) -> None:
    """Run ``(path, op, args)`` requests until ``None``; answer ``("ok", value)`` or
    ``("error", class name, message)``."""
    fleets: dict[str, SharedFleet] = {}
    while True:
        request = conn.recv()
        if request is None:
            break
        path, op, args = request
        if path not in fleets:
            for old in fleets.values():
                old.close()
            fleets = {path: SharedFleet.open(Path(path))}
        try:
            conn.send(("ok", _do(fleets[path], op, args)))
        except FleetwiseError as exc:
            conn.send(("error", type(exc).__name__, str(exc)))
    for fleet in fleets.values():
        fleet.close()
    conn.close()


class Worker:
    """Handle on the worker process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def send(self, path: Path, op: str, *args: Any) -> None:
        self._conn.send((str(path), op, args))

    def receive(self, timeout: float = 30.0) -> tuple[Any, ...]:
        if not self._conn.poll(timeout):
            raise TimeoutError("the fleet worker did not answer")
        answer: tuple[Any, ...] = self._conn.recv()
        return answer

    def call(self, path: Path, op: str, *args: Any) -> tuple[Any, ...]:
        self.send(path, op, *args)
        return self.receive()

    def value(self, path: Path, op: str, *args: Any) -> Any:
        answer = self.call(path, op, *args)
        assert answer[0] == "ok", answer
        return answer[1]

    def close(self) -> None:
        self._conn.send(None)
        self._process.join(10)
        self._conn.close()
