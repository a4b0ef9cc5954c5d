"""The REST API on its own: registration, heartbeats, samples, requests, bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fleetwise.store.reallocation import list_requests
from tests.helpers.controller import ADMIN, Harness, vm, vm_uuid


def test_registration_upserts_the_host_and_its_vms(harness: Harness) -> None:
    view = harness.register("h1", [vm(1), vm(2)], cores=4, core_mhz=2500.0)
    assert view["name"] == "h1" and view["vms"] == 2
    assert view["cpu_mhz"] == 10_000 and view["power_state"] == "active"
    # Registering again with other figures updates the host, and a VM now reported by
    # h2 moves there: it is on one host only.
    harness.register("h1", [vm(1)], cores=8, core_mhz=2500.0)
    harness.register("h2", [vm(2)])
    hosts = {h["name"]: h for h in harness.ok("GET", "/v1/hosts")}
    assert hosts["h1"]["cpu_mhz"] == 20_000
    assert (hosts["h1"]["vms"], hosts["h2"]["vms"]) == (1, 1)
    vms = {v["uuid"]: v["host"] for v in harness.ok("GET", "/v1/vms")}
    assert vms == {vm_uuid(1): "h1", vm_uuid(2): "h2"}


def test_usable_fraction_sets_the_capacity_offered_to_vms(harness: Harness) -> None:
    body = {
        "cpu_cores": 4,
        "core_mhz": 2000.0,
        "usable_fraction": 0.75,
        "ram_mb": 8192,
        "hypervisor_uri": "qemu+tcp://h1/system",
    }
    assert harness.ok("PUT", "/v1/agents/h1", "h1", body)["cpu_mhz"] == 6000


def test_heartbeat_with_vms_releases_vms_the_host_no_longer_runs(harness: Harness) -> None:
    harness.register("h1", [vm(1), vm(2)])
    harness.advance(10)
    harness.heartbeat("h1", [vm(1)])
    vms = {v["uuid"]: v for v in harness.ok("GET", "/v1/vms")}
    assert vms[vm_uuid(1)]["host"] == "h1"
    assert vms[vm_uuid(2)]["host"] is None and vms[vm_uuid(2)]["state"] == "missing"
    host = harness.ok("GET", "/v1/hosts/h1")
    assert host["last_heartbeat"].startswith(harness.now().isoformat()[:19])


def test_samples_are_stored_once_and_unknown_vms_refused(harness: Harness) -> None:
    harness.register("h1", [vm(1), vm(2)])
    body = {
        "taken_at": harness.now().isoformat(),
        "host_cpu_mhz": 1210.0,
        "hypervisor_mhz": 0.0,
        "vms": [{"uuid": vm_uuid(n), "cpu_mhz": 10.0} for n in (1, 99)],
    }
    refused = harness.call("POST", "/v1/agents/h1/samples", "h1", body)
    assert refused.status_code == 409 and vm_uuid(99) in refused.json()["detail"]
    old = dict(body, vms=[], taken_at=(harness.now() - timedelta(days=2)).isoformat())
    too_old = harness.call("POST", "/v1/agents/h1/samples", "h1", old)
    assert too_old.status_code == 409 and "older than" in too_old.json()["detail"]
    assert harness.samples("h1", {1: 500.0, 2: 700.0}) == 2  # the refused batch stored nothing
    assert harness.samples("h1", {1: 500.0, 2: 700.0}) == 0  # same interval sent again
    harness.advance(300)
    assert harness.samples("h1", {1: 900.0}) == 1
    cpu = {v["uuid"]: v["cpu_mhz"] for v in harness.ok("GET", "/v1/vms")}
    assert cpu == {vm_uuid(1): 900.0, vm_uuid(2): 700.0}


def test_overload_flag_is_logged_only_when_it_changes(harness: Harness) -> None:
    harness.register("h1", [vm(1)])
    for overloaded in (False, True, True, False):
        harness.advance(300)
        body = {
            "taken_at": harness.now().isoformat(),
            "host_cpu_mhz": 100.0,
            "hypervisor_mhz": 10.0,
            "overloaded": overloaded,
        }
        harness.ok("POST", "/v1/agents/h1/samples", "h1", body)
    from fleetwise.store.inventory import overload_history

    states = [e.overloaded for e in harness.context.store.read(overload_history, "h1")]
    assert states == [False, True, False]


def test_reallocation_request_is_queued(harness: Harness) -> None:
    harness.register("h1", [vm(1)])
    response = harness.reallocate("h1", "overload", [1], age_s=5)
    assert response.status_code == 202
    requests = harness.context.store.read(list_requests)
    assert [r.id for r in requests] == [response.json()["request_id"]]
    assert requests[0].vm_uuids == (vm_uuid(1),) and requests[0].outcome is None


def test_stale_reallocation_request_gets_412_and_is_not_stored(harness: Harness) -> None:
    harness.register("h1", [vm(1)])
    response = harness.reallocate("h1", "underload", age_s=31)
    assert response.status_code == 412
    assert "staleness window" in response.json()["detail"]
    assert harness.context.store.read(list_requests) == ()


def test_request_from_the_future_is_rejected(harness: Harness) -> None:
    harness.register("h1", [vm(1)])
    response = harness.reallocate("h1", "underload", age_s=-120)
    assert response.status_code == 409
    assert "future" in response.json()["detail"]


def _detail(harness: Harness, method: str, path: str, json: Any = None) -> tuple[int, str]:
    response = harness.call(method, path, ADMIN, json)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    return response.status_code, detail


BAD_INPUT = [
    pytest.param(
        "PUT",
        "/v1/agents/h1",
        {"cpu_cores": 0, "core_mhz": 2000, "ram_mb": 1, "hypervisor_uri": "x"},
        422,
        "cpu_cores: input should be greater than or equal to 1",
        id="zero-cores",
    ),
    pytest.param(
        "PUT",
        "/v1/agents/h1",
        {
            "cpu_cores": 1,
            "core_mhz": 2000,
            "ram_mb": 1,
            "hypervisor_uri": "x",
            "vms": [{"uuid": "not-a-uuid", "vcpus": 1, "ram_mb": 1}],
        },
        422,
        "vms[0].uuid: is not a VM UUID",
        id="vm-not-uuid",
    ),
    pytest.param(
        "PUT",
        "/v1/agents/-rf",
        {"cpu_cores": 1, "core_mhz": 2000, "ram_mb": 1, "hypervisor_uri": "x"},
        422,
        "host: is not a host name or address",
        id="bad-host-name",
    ),
    pytest.param(
        "PUT",
        "/v1/agents/h1",
        {"cpu_cores": 1, "core_mhz": 2000, "ram_mb": 10**30, "hypervisor_uri": "x"},
        422,
        "ram_mb: input should be less than or equal to 2147483647",
        id="huge-ram",
    ),
    pytest.param(
        "POST",
        "/v1/agents/h1/samples",
        {"taken_at": "2099-01-01T00:00:00Z", "host_cpu_mhz": 1, "hypervisor_mhz": 0},
        409,
        "taken_at lies in the future",
        id="sample-from-the-future",
    ),
    pytest.param(
        "POST",
        "/v1/agents/h1/heartbeat",
        {"sent_at": "0001-01-01T00:00:00+05:00"},
        422,
        "sent_at is out of range",
        id="time-out-of-range",
    ),
    pytest.param(
        "POST",
        "/v1/agents/h1/heartbeat",
        {"sent_at": "2025-01-06T08:00:00"},
        422,
        "sent_at: needs a time zone offset",
        id="naive-time",
    ),
    pytest.param(
        "POST",
        "/v1/agents/h1/heartbeat",
        {"sent_at": "yesterday"},
        422,
        "sent_at:",
        id="unparseable-time",
    ),
    pytest.param(
        "POST",
        "/v1/agents/h1/heartbeat",
        {"sent_at": "2025-01-06T08:00:00Z", "extra": 1},
        422,
        "extra: extra inputs are not permitted",
        id="unknown-field",
    ),
    pytest.param("POST", "/v1/agents/h1/heartbeat", None, 422, "needs a JSON body", id="no-body"),
    pytest.param(
        "PUT",
        "/v1/reallocations",
        {"host": "h1", "reason": "overload", "sent_at": "2025-01-06T08:00:00Z"},
        422,
        "overload.vm_uuids: is required",
        id="overload-without-vms",
    ),
    pytest.param(
        "PUT",
        "/v1/reallocations",
        {"host": "h1", "reason": "sideways", "sent_at": "2025-01-06T08:00:00Z"},
        422,
        "reason: must be one of 'underload', 'overload'",
        id="unknown-reason",
    ),
    pytest.param(
        "PUT",
        "/v1/reallocations",
        {"host": "nowhere", "reason": "underload", "sent_at": "2025-01-06T08:00:00Z"},
        404,
        "unknown host: nowhere",
        id="unknown-host",
    ),
    pytest.param("GET", "/v1/hosts/nowhere", None, 404, "unknown host: nowhere", id="no-host"),
    pytest.param("GET", "/v1/plans/12345", None, 404, "unknown plan: 12345", id="no-plan"),
    pytest.param("GET", "/v1/plans/abc", None, 422, "plan_id:", id="plan-id-not-int"),
    pytest.param(
        "POST", "/v1/plans/12345/approve", None, 404, "unknown plan: 12345", id="approve-no-plan"
    ),
    pytest.param(
        "POST", "/v1/actions/777/skip", None, 404, "unknown action: 777", id="skip-no-action"
    ),
    pytest.param(
        "POST",
        "/v1/actions/777/result",
        {"ok": True},
        404,
        "unknown action: 777",
        id="result-no-action",
    ),
    pytest.param(
        "GET", "/v1/migrations?vm=zzz", None, 422, "vm: is not a VM UUID", id="migrations-bad-vm"
    ),
    pytest.param("GET", "/v1/plans?state=bogus", None, 422, "state[0]:", id="bad-plan-state"),
    pytest.param("GET", "/v1/plans?limit=0", None, 422, "limit:", id="bad-limit"),
    pytest.param(
        "GET", "/v1/vms?hots=h1", None, 422, "unknown query parameter 'hots'", id="misspelt-filter"
    ),
    pytest.param("GET", "/v1/migrations?since=0.5", None, 422, "not a number", id="epoch-since"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "needle"), BAD_INPUT)
def test_bad_input_gets_a_clear_one_line_detail(
    harness: Harness, method: str, path: str, body: Any, status: int, needle: str
) -> None:
    harness.register("h1", [vm(1)])
    code, detail = _detail(harness, method, path, body)
    assert (code, needle in detail) == (status, True), detail


def test_malformed_json_is_400(harness: Harness) -> None:
    response = harness.client.put(
        "/v1/reallocations",
        content=b'{"host": "h1",',
        headers={**harness.headers(ADMIN), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "the request body is not valid JSON"}


def test_bad_input_changes_nothing(harness: Harness) -> None:
    harness.register("h1", [vm(1)])
    before = harness.ok("GET", "/v1/vms")
    body = {
        "cpu_cores": 4,
        "core_mhz": 2000,
        "ram_mb": 4096,
        "hypervisor_uri": "x",
        "vms": [vm(2), vm(2)],  # the same VM twice: the whole report is refused
    }
    response = harness.call("PUT", "/v1/agents/h1", "h1", body)
    assert response.status_code == 422 and "twice" in response.json()["detail"]
    assert harness.ok("GET", "/v1/vms") == before
    assert harness.ok("GET", "/v1/hosts/h1")["ram_mb"] == 16384


def test_maintenance_toggles(harness: Harness) -> None:
    harness.register("h1")
    assert harness.ok("POST", "/v1/hosts/h1/maintenance", json={"on": True})["maintenance"]
    assert not harness.ok("POST", "/v1/hosts/h1/maintenance", json={"on": False})["maintenance"]


def test_only_configured_hosts_register_and_requests_name_known_vms(harness: Harness) -> None:
    stranger = harness.call(
        "PUT",
        "/v1/agents/h99",
        json={"cpu_cores": 1, "core_mhz": 1000, "ram_mb": 1024, "hypervisor_uri": "x"},
    )
    assert (
        stranger.status_code == 403
        and "not in the controller's configuration" in (stranger.json()["detail"])
    )
    harness.register("h1", [vm(1)])
    unknown = harness.reallocate("h1", "overload", [1, 42])
    assert unknown.status_code == 409 and vm_uuid(42) in unknown.json()["detail"]
    future = {"sent_at": (harness.now() + timedelta(hours=1)).isoformat()}
    late = harness.call("POST", "/v1/agents/h1/heartbeat", "h1", future)
    assert late.status_code == 409 and "future" in late.json()["detail"]


def test_health_answers_any_principal(harness: Harness) -> None:
    assert harness.ok("GET", "/v1/health", "h3") == {
        "status": "ok",
        "database": "ok",
        "reasons": [],
    }


def test_openapi_document_lists_every_endpoint_of_the_contract(harness: Harness) -> None:
    document = harness.ok("GET", "/openapi.json", "h1")
    paths = set(document["paths"])
    assert {
        "/v1/agents/{host}",
        "/v1/agents/{host}/heartbeat",
        "/v1/agents/{host}/samples",
        "/v1/agents/{host}/assignments",
        "/v1/reallocations",
        "/v1/actions/{action_id}/progress",
        "/v1/actions/{action_id}/result",
        "/v1/actions/{action_id}/skip",
        "/v1/hosts",
        "/v1/hosts/{host}",
        "/v1/hosts/{host}/maintenance",
        "/v1/hosts/{host}/evacuate",
        "/v1/vms",
        "/v1/vms/{uuid}",
        "/v1/plans",
        "/v1/plans/{plan_id}",
        "/v1/plans/{plan_id}/approve",
        "/v1/plans/{plan_id}/cancel",
        "/v1/migrations",
        "/v1/migrations/{migration_id}",
        "/v1/migrations/{migration_id}/resolve",
        "/v1/stats",
        "/v1/health",
        "/metrics",
    } == paths
