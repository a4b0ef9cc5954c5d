"""A small typed client of the controller's admin API (used by the admin CLI).

Every admin endpoint is a :class:`Call` built by :class:`Calls`; :meth:`AdminClient.send`
answers it with a :class:`Reply` holding the JSON body exactly as the controller sent it
and its typed value. The named methods (``hosts()``, ``plan(7)``…) return the value only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from fleetwise.api.schemas import (
    ActionOut,
    Evacuation,
    FleetStats,
    Health,
    HostOut,
    MigrationOut,
    PlanOut,
    VmOut,
)
from fleetwise.errors import DriverError, InputError

__all__ = ["AdminClient", "Call", "Calls", "Reply"]

T = TypeVar("T")

_MAX_DETAIL = 500
"""Longest error detail quoted from an answer (a proxy's HTML page can be long)."""


Query = dict[str, str | int | list[str]]
"""Query parameters; a list repeats its parameter (``state=a&state=b``)."""


def _query(**values: str | int | list[str] | None) -> Query:
    return {k: v for k, v in values.items() if v is not None and v != []}


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(answer: Any) -> TypeAdapter[Any]:
    """The validator of ``answer`` (built once: building one takes a while)."""
    adapter = _ADAPTERS.get(answer)
    if adapter is None:
        adapter = _ADAPTERS[answer] = TypeAdapter(answer)
    return adapter


@dataclass(frozen=True)
class Call(Generic[T]):
    """One admin request: method, path, body and query, and the type of the answer."""

    method: Literal["GET", "POST"]
    path: str
    answer: type[T]
    body: dict[str, Any] | None = None
    query: Query | None = None

    def parse(self, body: Any) -> T:
        """The answer's typed value (DriverError when the body does not fit the type)."""
        try:
            value: T = _adapter(self.answer).validate_python(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise DriverError(
                f"{self.method} {self.path}: the controller's answer does not fit the API "
                f"({where}: {first['msg']}; a controller of another version?)"
            ) from None
        return value


@dataclass(frozen=True)
class Reply(Generic[T]):
    """The controller's answer: its JSON ``body`` as sent, and its typed ``value``."""

    body: Any
    value: T


def _segment(value: str, what: str) -> str:
    """A path segment: a name with ``/``, ``?`` or ``%`` stays one segment."""
    if not value.strip():
        raise InputError(f"{what} must not be empty")
    return quote(value, safe="")


class Calls:
    """Builders of every admin :class:`Call` (see :mod:`fleetwise.api.schemas`)."""

    @staticmethod
    def hosts() -> Call[list[HostOut]]:
        return Call("GET", "/v1/hosts", list[HostOut])

    @staticmethod
    def host(name: str) -> Call[HostOut]:
        return Call("GET", f"/v1/hosts/{_segment(name, 'a host name')}", HostOut)

    @staticmethod
    def maintenance(name: str, on: bool) -> Call[HostOut]:
        return Call(
            "POST", f"/v1/hosts/{_segment(name, 'a host name')}/maintenance", HostOut, {"on": on}
        )

    @staticmethod
    def evacuate(name: str) -> Call[Evacuation]:
        return Call("POST", f"/v1/hosts/{_segment(name, 'a host name')}/evacuate", Evacuation)

    @staticmethod
    def vms(host: str | None = None) -> Call[list[VmOut]]:
        return Call("GET", "/v1/vms", list[VmOut], query=_query(host=host))

    @staticmethod
    def vm(uuid: str) -> Call[VmOut]:
        return Call("GET", f"/v1/vms/{_segment(uuid, 'a VM UUID')}", VmOut)

    @staticmethod
    def plans(states: list[str] | None = None, limit: int | None = None) -> Call[list[PlanOut]]:
        return Call("GET", "/v1/plans", list[PlanOut], query=_query(state=states, limit=limit))

    @staticmethod
    def plan(plan_id: int) -> Call[PlanOut]:
        return Call("GET", f"/v1/plans/{plan_id}", PlanOut)

    @staticmethod
    def approve(plan_id: int) -> Call[PlanOut]:
        return Call("POST", f"/v1/plans/{plan_id}/approve", PlanOut)

    @staticmethod
    def cancel(plan_id: int) -> Call[PlanOut]:
        return Call("POST", f"/v1/plans/{plan_id}/cancel", PlanOut)

    @staticmethod
    def skip(action_id: int) -> Call[ActionOut]:
        return Call("POST", f"/v1/actions/{action_id}/skip", ActionOut)

    @staticmethod
    def migrations(
        vm: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> Call[list[MigrationOut]]:
        query = _query(vm=vm, since=None if since is None else since.isoformat(), limit=limit)
        return Call("GET", "/v1/migrations", list[MigrationOut], query=query)

    @staticmethod
    def migration(migration_id: int) -> Call[MigrationOut]:
        return Call("GET", f"/v1/migrations/{migration_id}", MigrationOut)

    @staticmethod
    def resolve(migration_id: int, on: str) -> Call[MigrationOut]:
        return Call("POST", f"/v1/migrations/{migration_id}/resolve", MigrationOut, {"on": on})

    @staticmethod
    def stats() -> Call[FleetStats]:
        return Call("GET", "/v1/stats", FleetStats)

    @staticmethod
    def health() -> Call[Health]:
        return Call("GET", "/v1/health", Health)


def _detail(response: httpx.Response) -> str:
    """The one-sentence ``detail`` of an error answer, or its text in one line."""
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    text = " ".join(str(detail).split()) or response.reason_phrase
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


class AdminClient:
    """Calls ``/v1`` admin endpoints with a bearer token.

    A 4xx answer raises :class:`~fleetwise.errors.InputError` carrying the controller's
    ``detail``; no answer, a 5xx or a body that is not what the API promises raise
    :class:`~fleetwise.errors.DriverError`.
    """

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url = base_url.rstrip("/")
        try:
            self._http = httpx.Client(
                base_url=self.url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout_s,
            )
        except (httpx.InvalidURL, ValueError) as exc:
            raise InputError(f"invalid controller URL {base_url!r}: {exc}") from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, call: Call[T]) -> Reply[T]:
        """Make ``call``: the JSON body the controller answered and its typed value."""
        body = self._call(call.method, call.path, call.body, call.query)
        return Reply(body, call.parse(body))

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, query: Query | None
    ) -> Any:
        try:
            response = self._http.request(method, path, json=body, params=query)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InputError(f"invalid controller URL {self.url!r}: {exc}") from None
        except httpx.HTTPError as exc:
            raise DriverError(f"cannot reach the controller at {self.url}: {exc}") from None
        if response.status_code >= 400:
            message = f"{method} {path}: {response.status_code} {_detail(response)}"
            if response.status_code >= 500:
                raise DriverError(message)
            raise InputError(message)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise DriverError(
                f"{method} {path}: the answer is not JSON (is {self.url} the controller?)"
            ) from None

    def hosts(self) -> list[HostOut]:
        return self.send(Calls.hosts()).value

    def host(self, name: str) -> HostOut:
        return self.send(Calls.host(name)).value

    def maintenance(self, name: str, on: bool) -> HostOut:
        return self.send(Calls.maintenance(name, on)).value

    def evacuate(self, name: str) -> Evacuation:
        return self.send(Calls.evacuate(name)).value

    def vms(self, host: str | None = None) -> list[VmOut]:
        return self.send(Calls.vms(host)).value

    def vm(self, uuid: str) -> VmOut:
        return self.send(Calls.vm(uuid)).value

    def plans(self) -> list[PlanOut]:
        return self.send(Calls.plans()).value

    def plan(self, plan_id: int) -> PlanOut:
        return self.send(Calls.plan(plan_id)).value

    def approve(self, plan_id: int) -> PlanOut:
        return self.send(Calls.approve(plan_id)).value

    def cancel(self, plan_id: int) -> PlanOut:
        return self.send(Calls.cancel(plan_id)).value

    def skip(self, action_id: int) -> ActionOut:
        return self.send(Calls.skip(action_id)).value

    def migrations(
        self, vm: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[MigrationOut]:
        return self.send(Calls.migrations(vm, since, limit)).value

    def migration(self, migration_id: int) -> MigrationOut:
        return self.send(Calls.migration(migration_id)).value

    def resolve(self, migration_id: int, on: str) -> MigrationOut:
        return self.send(Calls.resolve(migration_id, on)).value

    def stats(self) -> FleetStats:
        return self.send(Calls.stats()).value

    def health(self) -> Health:
        return self.send(Calls.health()).value
