"""Running ``fleetwise lab`` commands as a user does, and waiting on the lab's own progress.

Waits never use a fixed time-out: :func:`eventually` gives up when the observed
progress signal (for instance an agent's collections) has moved on ``steps`` times
without the condition holding, or when nothing moved for a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from fleetwise.lab.patience import Patience

__all__ = ["collections_of", "eventually", "lab", "lab_status", "running"]

NO_PROGRESS_S = 60.0


def lab(
    state_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``fleetwise lab ARGS --state-dir STATE_DIR`` and capture its output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWISE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fleetwise", "lab", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


def lab_status(state_dir: Path) -> dict[str, Any]:
    """``fleetwise lab status --json``, parsed."""
    done = lab(state_dir, "status", "--json")
    assert done.returncode == 0, done.stderr
    status: dict[str, Any] = json.loads(done.stdout)
    return status


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie), read from ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def collections_of(state_dir: Path, host: str) -> Callable[[], Hashable]:
    """A progress signal that moves on with every collection of ``host``'s agent."""
    history = state_dir / "agents" / host / "history.json"

    def signal() -> Hashable:
        try:
            return history.read_bytes()
        except FileNotFoundError:
            return None

    return signal


def eventually(
    condition: Callable[[], bool],
    what: str,
    *,
    progress: Callable[[], Hashable],
    steps: int,
) -> None:
    """Wait until ``condition`` holds; fail once ``progress`` moved on ``steps`` times (or
    did not move for a minute) without it."""
    patience = Patience(NO_PROGRESS_S)
    seen: set[Hashable] = {progress()}
    while not condition():
        state = progress()
        if state not in seen:
            seen.add(state)
            patience.saw(state)
        assert len(seen) <= steps + 1, f"{what}: not after {steps} steps of progress"
        assert not patience.expired(), f"{what}: no progress for {NO_PROGRESS_S:g} s"
        time.sleep(0.05)
