"""The two-host libvirt lab of ``scripts/libvirt-lab.sh``, for tests on real libvirtd + KVM.

Each lab runs in a directory of its own (``FLEETWISE_LAB_DIR``), so a test never touches
a lab that something else started, and always stops the daemons it started. The daemons
are asked directly through :class:`Daemon`; waits on guests follow their CPU time, never
the clock alone, so that they hold on a machine busy with other work.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetwise.drivers.hypervisor.libvirt_driver import load_libvirt
from fleetwise.lab.patience import Patience

__all__ = [
    "LAB_PACKAGES",
    "Daemon",
    "DomainOnHost",
    "Lab",
    "lab_unavailable",
    "running_lab",
    "wait_until_idle",
    "wait_until_running",
]

LAB_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "libvirt-lab.sh"
LAB_PACKAGES = "libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86"
LAB_COMMANDS = ("libvirtd", "virsh", "qemu-system-x86_64", "unshare")


def lab_unavailable() -> str | None:
    """Why real libvirt guests cannot run here, or None when they can."""
    if not Path("/dev/kvm").exists():
        return "/dev/kvm is absent"
    if os.geteuid() != 0:
        return "the libvirt lab needs root"
    missing = [c for c in LAB_COMMANDS if shutil.which(c) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install {LAB_PACKAGES}"
    if importlib.util.find_spec("libvirt") is None:
        return "libvirt-python is not installed (pip install libvirt-python)"
    return None


@dataclass(frozen=True)
class Lab:
    """Two running libvirtd daemons: host A's and host B's URIs, and a shared image directory."""

    uri_a: str
    uri_b: str
    images: Path


def _lab(command: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LAB_SCRIPT), command],
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang: the script gives up on a daemon that stalls
        check=False,
        env={**os.environ, "FLEETWISE_LAB_DIR": str(directory)},
    )


@contextmanager
def running_lab() -> Iterator[Lab]:
    """Start a private two-host lab; stop it (guests, daemons, images) and remove it after.

    The directory is short on purpose: the daemons' Unix socket paths live inside it.
    """
    directory = Path(tempfile.mkdtemp(prefix="fw-e2e-lab-", dir="/var/tmp"))
    try:
        started = _lab("start", directory)
        if started.returncode != 0:
            log = "".join(p.read_text(errors="replace") for p in directory.glob("*/start.log"))
            raise RuntimeError(
                f"libvirt-lab.sh start failed:\n{started.stdout}{started.stderr}{log}"
            )
        values = dict(
            line.split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("FLEETWISE_LAB_")
        )
        yield Lab(
            values["FLEETWISE_LAB_URI_A"],
            values["FLEETWISE_LAB_URI_B"],
            Path(values["FLEETWISE_LAB_IMAGES"]),
        )
    finally:
        stopped = _lab("stop", directory)
        if stopped.returncode == 0:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            raise RuntimeError(
                f"libvirt-lab.sh stop failed (lab left in {directory}):\n{stopped.stderr}"
            )


@dataclass(frozen=True)
class DomainOnHost:
    """A domain as one libvirtd sees it; ``job_bytes`` is what a running job (a migration)
    has transferred, None without a job."""

    active: bool
    running: bool
    persistent: bool
    cpu_time_ns: int
    job_bytes: int | None = None


class Daemon:
    """One libvirtd of the lab, asked directly over a connection of the test's own."""

    def __init__(self, uri: str) -> None:
        self._lv: Any = load_libvirt()
        self.uri = uri
        self._conn: Any = self._lv.open(uri)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def domain(self, uuid: str, *, job: bool = False) -> DomainOnHost | None:
        """Domain ``uuid`` (with its job's progress when ``job``); None when there is none."""
        lv = self._lv
        try:
            dom = self._conn.lookupByUUIDString(uuid)
            state, _reason = dom.state()
            found = DomainOnHost(
                active=bool(dom.isActive()),
                running=state == lv.VIR_DOMAIN_RUNNING,
                persistent=bool(dom.isPersistent()),
                cpu_time_ns=int(dom.info()[4]),
            )
            if not job:
                return found
            stats = dom.jobStats()
        except lv.libvirtError as exc:
            if exc.get_error_code() == lv.VIR_ERR_NO_DOMAIN:
                return None
            raise
        if int(stats.get("type", lv.VIR_DOMAIN_JOB_NONE)) == lv.VIR_DOMAIN_JOB_NONE:
            return found
        return DomainOnHost(
            found.active,
            found.running,
            found.persistent,
            found.cpu_time_ns,
            int(stats.get("data_processed", 0)),
        )

    def cpu_time_ns(self, uuid: str) -> int:
        """Domain ``uuid``'s CPU time; it must exist."""
        found = self.domain(uuid)
        if found is None:
            raise AssertionError(f"domain {uuid} vanished from {self.uri}")
        return found.cpu_time_ns


def wait_until_idle(
    daemon: Daemon,
    uuid: str,
    reference: str,
    *,
    stall_s: float,
    firmware_cpu_s: float = 30.0,
    window_cpu_s: float = 0.25,
    share: float = 0.05,
) -> float:
    """Wait until guest ``uuid`` idles; returns the seconds waited.

    Idle means: over a stretch in which ``reference`` (a busy guest of the same daemon) ran
    for ``window_cpu_s`` of CPU time, ``uuid`` ran for less than ``share`` of that. Measured
    against a guest that always wants a core, a guest still in its firmware but starved by
    other load does not pass for idle. Fails once ``uuid`` has used ``firmware_cpu_s`` of CPU
    without settling, or when ``reference`` got no CPU for ``stall_s``.
    """
    start = time.monotonic()
    first = daemon.cpu_time_ns(uuid)
    patience = Patience(stall_s)
    while True:
        guest, ref = daemon.cpu_time_ns(uuid), daemon.cpu_time_ns(reference)
        while (now_ref := daemon.cpu_time_ns(reference)) - ref < window_cpu_s * 1e9:
            patience.saw(now_ref)
            assert not patience.expired(), f"guest {reference} got no CPU for {stall_s:g} s"
            time.sleep(0.1)
        used = daemon.cpu_time_ns(uuid) - guest
        if used < share * (now_ref - ref):
            return time.monotonic() - start
        spent_s = (daemon.cpu_time_ns(uuid) - first) / 1e9
        assert spent_s < firmware_cpu_s, (
            f"guest {uuid} used {spent_s:.1f} s of CPU and still does not idle "
            f"(last stretch: {used / (now_ref - ref):.0%} of what {reference} used)"
        )


def wait_until_running(daemon: Daemon, uuid: str, *, cpu_s: float, stall_s: float) -> float:
    """Wait until guest ``uuid`` has run for ``cpu_s`` more CPU seconds on ``daemon``;
    returns the seconds waited. Fails when it got no CPU at all for ``stall_s``."""
    start = time.monotonic()
    first = daemon.cpu_time_ns(uuid)
    patience = Patience(stall_s)
    while (now := daemon.cpu_time_ns(uuid)) - first < cpu_s * 1e9:
        patience.saw(now)
        assert not patience.expired(), (
            f"guest {uuid} got no CPU on {daemon.uri} for {stall_s:g} s "
            f"({(now - first) / 1e9:.2f} s since the first look)"
        )
        time.sleep(0.1)
    return time.monotonic() - start
