"""Who is calling: bearer tokens matched against the configured token hashes.

Checking a token costs one scrypt computation per candidate hash, so results are
cached in memory under an HMAC of the token with a key drawn at start-up (the
token itself is never kept). Candidates are tried in a useful order: the admin,
then the host the request names, then every other host, so an agent's first call
for its own host costs one or two hash computations.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from fleetwise.controller.tokens import TokenHash

__all__ = ["Authenticator", "Principal"]

_MISS = object()


@dataclass(frozen=True, slots=True)
class Principal:
    """The admin (``host`` is None) or the agent of one host."""

    host: str | None

    @property
    def is_admin(self) -> bool:
        return self.host is None

    def may_act_for(self, host: str) -> bool:
        """Whether this principal may act for ``host`` (the admin may act for any)."""
        return self.host is None or self.host == host

    def __str__(self) -> str:
        return "admin" if self.host is None else f"agent of {self.host}"


ADMIN = Principal(None)


class _Lru:
    """A small thread-safe LRU map of token fingerprints to principals (or None)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, Principal | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> object:
        with self._lock:
            if key not in self._items:
                return _MISS
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: bytes, value: Principal | None) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Authenticator:
    """Maps bearer tokens to principals, caching both hits and misses."""

    def __init__(
        self,
        admin: TokenHash,
        agents: Mapping[str, TokenHash],
        *,
        cache_size: int = 4096,
        reject_cache_size: int = 256,
    ) -> None:
        self._admin = admin
        self._agents = dict(agents)
        self._key = secrets.token_bytes(32)
        self._accepted = _Lru(cache_size)
        self._rejected = _Lru(reject_cache_size)
        self._kdf_lock = threading.Lock()  # bounds the CPU spent on hashing to one core

    def _fingerprint(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).digest()

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """``(True, principal or None)`` if ``token`` was checked before, else ``(False, None)``.

        Cheap: never computes a hash, so it may run on an event loop.
        """
        key = self._fingerprint(token)
        for cache in (self._accepted, self._rejected):
            found = cache.get(key)
            if found is not _MISS:
                return True, found if isinstance(found, Principal) else None
        return False, None

    def authenticate(self, token: str, hint: str | None = None) -> Principal | None:
        """The principal whose hash matches ``token``, or None if none does."""
        known, principal = self.cached(token)
        if known:
            return principal
        key = self._fingerprint(token)
        principal = self._search(token, hint)
        (self._accepted if principal is not None else self._rejected).put(key, principal)
        return principal

    def _search(self, token: str, hint: str | None) -> Principal | None:
        with self._kdf_lock:
            if self._admin.verify(token):
                return ADMIN
            order = sorted(self._agents, key=lambda host: (host != hint, host))
            for host in order:
                if self._agents[host].verify(token):
                    return Principal(host)
        return None
