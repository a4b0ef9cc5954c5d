"""A small typed client of the controller's admin API (used by the admin CLI)."""

from __future__ import annotations

from typing import Any

import httpx

from fleetwise.api.schemas import ActionOut, FleetStats, HostOut, PlanOut, VmOut
from fleetwise.errors import DriverError, InputError

__all__ = ["AdminClient"]


class AdminClient:
    """Calls ``/v1`` admin endpoints with a bearer token."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise DriverError(
                f"cannot reach the controller at {self._http.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            message = f"{method} {path}: {response.status_code} {detail}"
            if response.status_code >= 500:
                raise DriverError(message)
            raise InputError(message)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def hosts(self) -> list[HostOut]:
        return [HostOut.model_validate(h) for h in self._call("GET", "/v1/hosts")]

    def host(self, name: str) -> HostOut:
        return HostOut.model_validate(self._call("GET", f"/v1/hosts/{name}"))

    def maintenance(self, name: str, on: bool) -> HostOut:
        return HostOut.model_validate(
            self._call("POST", f"/v1/hosts/{name}/maintenance", {"on": on})
        )

    def vms(self) -> list[VmOut]:
        return [VmOut.model_validate(v) for v in self._call("GET", "/v1/vms")]

    def plans(self) -> list[PlanOut]:
        return [PlanOut.model_validate(p) for p in self._call("GET", "/v1/plans")]

    def plan(self, plan_id: int) -> PlanOut:
        return PlanOut.model_validate(self._call("GET", f"/v1/plans/{plan_id}"))

    def approve(self, plan_id: int) -> PlanOut:
        return PlanOut.model_validate(self._call("POST", f"/v1/plans/{plan_id}/approve"))

    def cancel(self, plan_id: int) -> PlanOut:
        return PlanOut.model_validate(self._call("POST", f"/v1/plans/{plan_id}/cancel"))

    def skip(self, action_id: int) -> ActionOut:
        return ActionOut.model_validate(self._call("POST", f"/v1/actions/{action_id}/skip"))

    def stats(self) -> FleetStats:
        return FleetStats.model_validate(self._call("GET", "/v1/stats"))
