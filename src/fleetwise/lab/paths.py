"""The lab's state directory: where each file lives, creating it privately, one command at a time.

::

    DIR/                   mode 0700
      lab.json             the lab's record: its shape, URL and processes (pids)
      lab.env              FLEETWISE_URL, FLEETWISE_TOKEN, FLEETWISE_LAB_DIR (mode 0600)
      fleet.db             the shared simulated fleet
      controller.yaml      agent-HOST.yaml   configurations
      controller/          the controller's SQLite database
      agents/HOST/         each agent's state
      tokens/HOST          each agent's token (mode 0600)
      logs/NAME.log        each process's output
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleetwise.errors import InputError

__all__ = ["DEFAULT_STATE_DIR", "LabPaths", "write_private"]

DEFAULT_STATE_DIR = Path("fleetwise-lab")
"""Where the lab keeps its state unless told otherwise (relative to the working directory)."""


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, readable by the owner only."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass(frozen=True)
class LabPaths:
    """The files of the lab in ``root`` (an absolute path)."""

    root: Path

    @classmethod
    def of(cls, state_dir: Path) -> LabPaths:
        """The paths of the lab in ``state_dir`` (made absolute)."""
        return cls(Path(os.path.abspath(state_dir.expanduser())))

    @property
    def record(self) -> Path:
        return self.root / "lab.json"

    @property
    def env(self) -> Path:
        return self.root / "lab.env"

    @property
    def fleet(self) -> Path:
        return self.root / "fleet.db"

    def log(self, name: str) -> Path:
        """The log file of process ``name``."""
        return self.root / "logs" / f"{name}.log"

    def is_empty(self) -> bool:
        """Whether the directory is missing or holds nothing."""
        if not self.root.is_dir():
            return not self.root.exists()
        return not any(self.root.iterdir())

    def create(self) -> bool:
        """Create the directory (mode 0700); whether it was created. InputError if it
        cannot be, or is not a writable directory."""
        created = not self.root.exists()
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.root.chmod(0o700)
        except OSError as exc:
            raise InputError(
                f"cannot create the state directory {self.root}: {exc.strerror or exc}"
            ) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise InputError(f"the state directory {self.root} is not writable")
        return created

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lab's lock (on the directory itself); InputError if another lab
        command holds it."""
        try:
            descriptor = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise InputError(
                f"cannot use the state directory {self.root}: {exc.strerror}"
            ) from None
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(
                    f"another fleetwise lab command is working on {self.root}; try again later"
                ) from None
            yield
        finally:
            os.close(descriptor)
