"""Atomic JSON files in the agent's state directory.

A write goes to a temporary file in the same directory, is flushed and fsync'ed, then
renamed over the old file and the directory is fsync'ed: a crash leaves either the old
or the new content, never a mix. A file that cannot be read back is moved aside (kept
for inspection) and the caller starts from its default.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from fleetwise.errors import DriverError

__all__ = ["JsonFile", "write_atomically"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new bytes only."""
    directory = path.parent
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise DriverError(f"cannot write {path}: {exc.strerror}") from exc


class JsonFile(Generic[M]):
    """One pydantic model persisted as a JSON file."""

    def __init__(self, path: Path, model: type[M]) -> None:
        self.path = path
        self._model = model

    def load(self, default: M) -> M:
        """The stored model, or ``default`` when there is none or it is unreadable."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return default
        except OSError as exc:
            raise DriverError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            return self._model.model_validate_json(raw)
        except ValidationError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            logger.error(
                "state file %s is unreadable (%s); moved to %s, starting afresh",
                self.path,
                exc.errors()[0]["msg"],
                aside.name,
            )
            return default

    def save(self, value: M) -> None:
        """Write ``value`` atomically."""
        write_atomically(self.path, value.model_dump_json().encode("utf-8"))
