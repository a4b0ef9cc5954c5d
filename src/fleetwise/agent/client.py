"""HTTP client of the controller's agent endpoints (see :mod:`fleetwise.api.schemas`).

Each method makes one attempt. Failures come back as exceptions the caller can act
on: :class:`ControllerUnavailableError` (network trouble, time-outs, 5xx: try again later),
:class:`StaleRequestError` (412: the request was too old) and :class:`ControllerRefusedError`
(any other 4xx: retrying the same request will not help). The token is sent in the
``Authorization`` header and never logged.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from fleetwise.api.schemas import (
    Accepted,
    ActionProgress,
    ActionResult,
    Assignment,
    Heartbeat,
    HostOut,
    HostRegistration,
    IngestResult,
    ReallocationBody,
    SampleBatch,
)
from fleetwise.errors import DriverError

__all__ = [
    "ControllerClient",
    "ControllerRefusedError",
    "ControllerUnavailableError",
    "StaleRequestError",
]

logger = logging.getLogger(__name__)

_ASSIGNMENTS = TypeAdapter(list[Assignment])


class ControllerUnavailableError(DriverError):
    """The controller could not be reached or failed; the request may be retried."""


class ControllerRefusedError(DriverError):
    """The controller refused the request (4xx)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"controller refused the request ({status}): {detail}")
        self.status = status
        self.detail = detail


class StaleRequestError(ControllerRefusedError):
    """The controller found the request too old (412)."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return str(body)[:200]


class ControllerClient:
    """The agent's side of the API for one host; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        content = None if body is None else body.model_dump_json().encode("utf-8")
        headers = {} if body is None else {"Content-Type": "application/json"}
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ControllerUnavailableError(
                f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        status = response.status_code
        if status >= 500 or status == 429:
            raise ControllerUnavailableError(f"{method} {path}: controller answered {status}")
        if status == 412:
            raise StaleRequestError(status, _detail(response))
        if status >= 400:
            raise ControllerRefusedError(status, _detail(response))
        logger.debug("%s %s -> %d", method, path, status)
        return response

    @staticmethod
    def _parse(response: httpx.Response, model: type[Any]) -> Any:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ControllerUnavailableError(
                f"unexpected answer from the controller: {exc.errors()[0]['msg']}"
            ) from exc

    @staticmethod
    def _agent(host: str) -> str:
        return f"/v1/agents/{quote(host, safe='')}"

    def register(self, host: str, body: HostRegistration) -> HostOut:
        """``PUT /v1/agents/{host}``."""
        view: HostOut = self._parse(self._call("PUT", self._agent(host), body), HostOut)
        return view

    def heartbeat(self, host: str, body: Heartbeat) -> None:
        """``POST /v1/agents/{host}/heartbeat``."""
        self._call("POST", f"{self._agent(host)}/heartbeat", body)

    def send_samples(self, host: str, body: SampleBatch) -> IngestResult:
        """``POST /v1/agents/{host}/samples``."""
        response = self._call("POST", f"{self._agent(host)}/samples", body)
        result: IngestResult = self._parse(response, IngestResult)
        return result

    def request_reallocation(self, body: ReallocationBody) -> Accepted:
        """``PUT /v1/reallocations``."""
        accepted: Accepted = self._parse(self._call("PUT", "/v1/reallocations", body), Accepted)
        return accepted

    def assignments(self, host: str) -> list[Assignment]:
        """``GET /v1/agents/{host}/assignments``."""
        response = self._call("GET", f"{self._agent(host)}/assignments")
        try:
            return _ASSIGNMENTS.validate_json(response.content)
        except ValidationError as exc:
            raise ControllerUnavailableError(
                f"unexpected assignments from the controller: {exc.errors()[0]['msg']}"
            ) from exc

    def report_progress(self, action_id: int, body: ActionProgress) -> None:
        """``POST /v1/actions/{id}/progress``."""
        self._call("POST", f"/v1/actions/{action_id}/progress", body)

    def report_result(self, action_id: int, body: ActionResult) -> None:
        """``POST /v1/actions/{id}/result``."""
        self._call("POST", f"/v1/actions/{action_id}/result", body)
