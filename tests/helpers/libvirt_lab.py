"""The two-host libvirt lab of ``scripts/libvirt-lab.sh``, for tests on real libvirtd + KVM.

Each lab runs in a directory of its own (``FLEETWISE_LAB_DIR``), so a test never touches
a lab that something else started, and always stops the daemons it started.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAB_PACKAGES", "Lab", "lab_unavailable", "running_lab"]

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
        timeout=120,
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
