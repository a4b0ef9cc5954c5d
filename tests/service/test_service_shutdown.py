"""A real service process stops gracefully on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

PROGRAM = """
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fleetwise.service import Manager, RealClock, ServiceRunner, periodic_task

journal = Path(sys.argv[1])


def note(line: str) -> None:
    with journal.open("a") as out:
        out.write(line + "\\n")


class Worker(Manager):
    @periodic_task(spacing=0.05, run_immediately=True)
    def work(self) -> None:
        note("begin")
        time.sleep(0.3)
        note("end")

    def stop(self) -> None:
        note("stop")


runner = ServiceRunner([Worker(RealClock())])
runner.install_signal_handlers()
runner.run()
note("exit")
"""


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.timeout(10)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_service_finishes_the_running_task_then_stops(tmp_path: Path, signum: int) -> None:
    script = tmp_path / "service.py"
    script.write_text(PROGRAM)
    journal = tmp_path / "journal.txt"
    proc = subprocess.Popen([sys.executable, str(script), str(journal)])
    try:
        assert wait_for(lambda: journal.exists() and "begin" in journal.read_text(), 5.0)
        sent = time.monotonic()
        proc.send_signal(signum)  # lands while the first task is sleeping
        returncode = proc.wait(timeout=3)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = journal.read_text().split()
    assert returncode == 0
    assert took < 1.5
    assert lines[-2:] == ["stop", "exit"]
    assert lines[:-2] == ["begin", "end"] * (len(lines[:-2]) // 2)  # no task was cut short
