"""Every route authenticates (401) and authorises (403) its caller.

The cases are built from the app's own routes, so a route added without an access
tag or without its check fails here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_AGENT, ACCESS_ANY
from fleetwise.core.lifecycle import PlanMode
from fleetwise.service import VirtualClock
from fleetwise.store.migration_log import start_migration
from fleetwise.store.plans import create_plan
from fleetwise.store.records import ActionDraft, PlanDraft
from tests.helpers.controller import ADMIN, T0, Harness, make_config, simulated_power, vm, vm_uuid

OWNER, OTHER = "h1", "h2"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, dict[str, Any]]]:
    clock = VirtualClock(epoch=T0.timestamp())
    harness = Harness(make_config(tmp_path_factory.mktemp("auth")), clock, simulated_power(clock))
    harness.register(OWNER, [vm(1)])
    harness.register(OTHER, [vm(2)])
    draft = PlanDraft(
        mode=PlanMode.RECOMMEND,
        reason="auth test",
        actions=(ActionDraft.migrate(vm_uuid(1), OWNER, OTHER),),
        expires_at=T0 + timedelta(days=1),
    )
    plan = harness.context.store.run(create_plan, draft, now=T0)
    migration = harness.context.store.run(start_migration, vm_uuid(2), OTHER, OWNER, now=T0)
    yield (
        harness,
        {
            "plan_id": plan.id,
            "action_id": plan.actions[0].id,
            "migration_id": migration.id,
            "uuid": vm_uuid(1),
        },
    )
    harness.close()


def _routes(harness: Harness) -> list[tuple[str, str, str]]:
    out = []
    for route in iter_route_contexts(harness.app.routes):
        assert isinstance(route.original_route, APIRoute), f"{route.path} is not an API route"
        access = [t for t in route.tags if t in (ACCESS_ADMIN, ACCESS_AGENT, ACCESS_ANY)]
        assert len(access) == 1, f"{route.path} must carry exactly one access tag"
        assert route.path and route.methods
        out.extend((method, route.path, str(access[0])) for method in sorted(route.methods))
    assert len(out) >= 21
    return out


def _cases() -> list[Any]:
    clock = VirtualClock(epoch=T0.timestamp())
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(make_config(Path(tmp)), clock, simulated_power(clock))
        try:
            routes = _routes(harness)
        finally:
            harness.close()
    return [pytest.param(m, p, a, id=f"{m} {p}") for m, p, a in routes]


CASES = _cases()

VALID_BODIES: dict[str, Any] = {
    "/v1/agents/{host}": {
        "cpu_cores": 4,
        "core_mhz": 2000,
        "ram_mb": 16384,
        "hypervisor_uri": "qemu+tcp://h1/system",
        "vms": [vm(1)],
    },
    "/v1/agents/{host}/heartbeat": {"sent_at": T0.isoformat()},
    "/v1/agents/{host}/samples": {
        "taken_at": T0.isoformat(),
        "host_cpu_mhz": 1.0,
        "hypervisor_mhz": 0.0,
    },
    "/v1/reallocations": {"host": OWNER, "reason": "underload", "sent_at": T0.isoformat()},
    "/v1/actions/{action_id}/progress": {"percent": 50},
    "/v1/actions/{action_id}/result": {"ok": False, "error": "test"},
    "/v1/hosts/{host}/maintenance": {"on": False},
    "/v1/migrations/{migration_id}/resolve": {"on": OTHER},
}


def _request(
    harness: Harness,
    ids: dict[str, Any],
    method: str,
    path: str,
    headers: dict[str, str],
) -> int:
    url = path.format(host=OWNER, **ids)
    body = VALID_BODIES.get(path)
    return harness.client.request(method, url, headers=headers, json=body).status_code


@pytest.mark.parametrize(("method", "path", "access"), CASES)
def test_no_or_invalid_token_is_401(
    world: tuple[Harness, dict[str, Any]], method: str, path: str, access: str
) -> None:
    harness, ids = world
    for headers in (
        {},
        {"Authorization": "Bearer not-a-valid-token-at-all"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer"},
    ):
        assert _request(harness, ids, method, path, headers) == 401, headers


@pytest.mark.parametrize(("method", "path", "access"), CASES)
def test_wrong_principal_is_403_and_right_one_passes(
    world: tuple[Harness, dict[str, Any]], method: str, path: str, access: str
) -> None:
    harness, ids = world
    right = ADMIN if access == ACCESS_ADMIN else OWNER
    assert _request(harness, ids, method, path, harness.headers(right)) not in (401, 403)
    if access == ACCESS_ANY:
        assert _request(harness, ids, method, path, harness.headers(OTHER)) not in (401, 403)
        return
    wrong = OWNER if access == ACCESS_ADMIN else OTHER
    assert _request(harness, ids, method, path, harness.headers(wrong)) == 403


def test_the_401_response_asks_for_a_bearer_token(world: tuple[Harness, dict[str, Any]]) -> None:
    harness, _ = world
    response = harness.client.get("/v1/hosts")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_admin_acts_for_any_host(world: tuple[Harness, dict[str, Any]]) -> None:
    harness, _ = world
    assert harness.call("GET", f"/v1/agents/{OTHER}/assignments", ADMIN).status_code == 200


def test_the_token_never_appears_in_logs_or_errors(
    world: tuple[Harness, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    harness, _ = world
    secret = "Bearer never-log-this-secret-token"
    caplog.set_level("DEBUG")
    response = harness.client.get("/v1/hosts", headers={"Authorization": secret})
    assert response.status_code == 401
    assert "never-log-this" not in response.text
    assert "never-log-this" not in caplog.text
    assert vm_uuid(1)  # the world still holds its VM
