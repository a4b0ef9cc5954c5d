"""The API's gate: who is calling, and how big the body may be, before any body is read.

An ASGI middleware in front of every route:

1. the ``Authorization: Bearer`` token is checked first (401 without a valid one; the
   hash comparison runs in a worker thread, and results are cached); the principal is
   handed to the routes in the request's state;
2. a body larger than ``max_body_bytes`` is refused with 413, from its
   ``Content-Length`` or, without one, as soon as the bytes read pass the limit;
3. only then does the application read and parse the body.

Failed authentications are counted (``fleetwise_auth_failures_total``) and logged at
most once a minute per client, with how many there were; the token is never logged.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time

import anyio.to_thread
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetwise.controller.auth import Authenticator, Principal

__all__ = ["PRINCIPAL", "AuthGate", "FailureLog"]

logger = logging.getLogger(__name__)

PRINCIPAL = "principal"
"""Key of the authenticated principal in the request's state."""

_HOST_IN_PATH = re.compile(r"^/v1/agents/([^/]+)")


class FailureLog:
    """Failed authentications, logged at most once per ``every_s`` per client."""

    def __init__(self, counter: Counter, every_s: float = 60.0) -> None:
        self._counter = counter
        self._every_s = every_s
        self._lock = threading.Lock()
        self._since: dict[str, tuple[float, int]] = {}

    def failed(self, client: str, reason: str, path: str) -> None:
        self._counter.labels(reason).inc()
        now = time.monotonic()
        with self._lock:
            last, missed = self._since.get(client, (-self._every_s, 0))
            if now - last < self._every_s:
                self._since[client] = (last, missed + 1)
                return
            self._since[client] = (now, 0)
        more = f" ({missed} more since the last report)" if missed else ""
        logger.warning("authentication failed from %s on %s: %s%s", client, path, reason, more)


async def _reply(send: Send, status: int, detail: str, challenge: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if challenge:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = bytes(value).decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class AuthGate:
    """Authenticate, then bound the body, then let the application run."""

    def __init__(
        self, app: ASGIApp, *, auth: Authenticator, failures: FailureLog, max_body_bytes: int
    ) -> None:
        self.app = app
        self.auth = auth
        self.failures = failures
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = await self._principal(scope, send)
        if principal is None:
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send)
            return
        body = await self._read(receive)
        if body is None:
            await self._too_large(send)
            return
        await self.app(scope, self._replay(body, receive), send)

    async def _principal(self, scope: Scope, send: Send) -> Principal | None:
        client = (scope.get("client") or ("unknown", 0))[0]
        path = scope.get("path", "")
        token = _bearer(scope)
        if token is None:
            self.failures.failed(client, "no bearer token", path)
            await _reply(
                send, 401, "this call needs an 'Authorization: Bearer <token>' header", True
            )
            return None
        match = _HOST_IN_PATH.match(path)
        hint = match.group(1) if match else None
        known, principal = self.auth.cached(token)
        if not known:
            principal = await anyio.to_thread.run_sync(self.auth.authenticate, token, hint)
        if principal is None:
            self.failures.failed(client, "invalid token", path)
            await _reply(send, 401, "the bearer token is not valid", True)
        return principal

    async def _too_large(self, send: Send) -> None:
        await _reply(
            send, 413, f"the request body is larger than {self.max_body_bytes} bytes", False
        )

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (nothing more is read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
