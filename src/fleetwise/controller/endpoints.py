"""Where peers reach each host's hypervisor, as its agent registered it.

The central store has no column for these URIs, so they are kept in a small JSON
file in the controller's state directory, rewritten atomically on every change and
read back at start-up. A restarted controller can therefore hand out migration
assignments before the agents register again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from fleetwise.errors import DriverError

__all__ = ["Endpoint", "EndpointBook"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The libvirt URI peers migrate to, and an optional separate migration URI."""

    hypervisor_uri: str
    migration_uri: str | None = None


class EndpointBook:
    """Host name → :class:`Endpoint`, persisted to ``path`` (None: in memory only)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._entries: dict[str, Endpoint] = self._load() if path is not None else {}

    def _load(self) -> dict[str, Endpoint]:
        assert self._path is not None
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            return {
                str(host): Endpoint(str(e["hypervisor_uri"]), e.get("migration_uri"))
                for host, e in raw.items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning(
                "ignoring unreadable endpoint file %s (%s); agents must register again",
                self._path,
                exc,
            )
            return {}

    def get(self, host: str) -> Endpoint | None:
        """The endpoint of ``host``, if it registered one."""
        with self._lock:
            return self._entries.get(host)

    def put(self, host: str, endpoint: Endpoint) -> None:
        """Record ``host``'s endpoint (the file is rewritten only when it changes)."""
        with self._lock:
            if self._entries.get(host) == endpoint:
                return
            entries = dict(self._entries)
            entries[host] = endpoint
            self._save(entries)
            self._entries = entries

    def _save(self, entries: dict[str, Endpoint]) -> None:
        if self._path is None:
            return
        data = json.dumps({h: asdict(e) for h, e in sorted(entries.items())}, indent=1)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".endpoints.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self._path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise DriverError(f"cannot save host endpoints to {self._path}: {exc}") from exc
