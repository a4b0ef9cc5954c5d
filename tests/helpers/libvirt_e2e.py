"""Pieces of the end-to-end test on real libvirt: the two-host lab, service processes, configs.

The lab itself comes from ``tests/helpers/libvirt_lab.py``, shared with the driver tests.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetwise.drivers.hypervisor.libvirt_driver import load_libvirt
from tests.helpers.libvirt_lab import LAB_PACKAGES, Lab, lab_unavailable, running_lab

__all__ = [
    "LAB_PACKAGES",
    "DomainOnHost",
    "Lab",
    "MachineCpu",
    "Service",
    "cores_used",
    "domain_on",
    "free_port",
    "lab_unavailable",
    "running_lab",
    "start_service",
    "wait_for",
    "write_yaml",
]


@dataclass(frozen=True)
class DomainOnHost:
    """A domain as one libvirtd sees it."""

    active: bool
    persistent: bool
    cpu_time_ns: int


def domain_on(uri: str, uuid: str) -> DomainOnHost | None:
    """Ask the libvirtd at ``uri`` itself about domain ``uuid``; None when it has no such domain."""
    libvirt: Any = load_libvirt()
    conn = libvirt.open(uri)
    try:
        try:
            dom = conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise
        return DomainOnHost(
            active=bool(dom.isActive()),
            persistent=bool(dom.isPersistent()),
            cpu_time_ns=int(dom.info()[4]),
        )
    finally:
        conn.close()


def cores_used(uri: str, uuid: str, seconds: float) -> float:
    """Cores domain ``uuid`` used over the next ``seconds``, from its libvirt CPU time."""
    before, start = domain_on(uri, uuid), time.monotonic()
    time.sleep(seconds)
    after, end = domain_on(uri, uuid), time.monotonic()
    if before is None or after is None:
        raise AssertionError(f"domain {uuid} vanished from {uri} while being measured")
    return (after.cpu_time_ns - before.cpu_time_ns) / 1e9 / (end - start)


@dataclass(frozen=True)
class MachineCpu:
    """This machine's CPU time counters (jiffies) from ``/proc/stat``."""

    busy: int
    total: int

    @staticmethod
    def read() -> MachineCpu:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return MachineCpu(sum(fields) - idle, sum(fields))

    def busy_fraction_since(self, earlier: MachineCpu) -> float:
        """Share of the machine's CPU time spent busy between ``earlier`` and this reading."""
        elapsed = self.total - earlier.total
        return (self.busy - earlier.busy) / elapsed if elapsed > 0 else 0.0


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as a YAML file; returns ``path``."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Service:
    """A ``fleetwise`` process started by the test, its output going to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"--- last lines of {self.name} ({self.log}) ---\n" + "\n".join(text[-lines:])

    def stop(self, timeout_s: float = 45.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit status."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def start_service(name: str, args: list[str], log_dir: Path) -> Service:
    """Run ``python -m fleetwise ARGS`` with stdout and stderr in ``log_dir/NAME.log``."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fleetwise", *args], stdout=out, stderr=subprocess.STDOUT
        )
    return Service(name, process, log)


def wait_for(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    *,
    every_s: float = 0.25,
    services: tuple[Service, ...] = (),
    details: Callable[[], str] = lambda: "",
) -> float:
    """Poll ``predicate`` until true; returns the seconds waited.

    Fails at once (with the service's log) when one of ``services`` exits meanwhile; on a
    time-out the message holds ``details()`` and the services' logs.
    """
    start = time.monotonic()
    while not predicate():
        for service in services:
            if not service.alive():
                raise AssertionError(
                    f"{service.name} exited ({service.process.returncode}) while waiting "
                    f"for {what}\n{service.log_tail()}"
                )
        if time.monotonic() - start > timeout_s:
            logs = "\n".join(s.log_tail() for s in services)
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {what}\n{details()}\n{logs}"
            )
        time.sleep(every_s)
    return time.monotonic() - start
