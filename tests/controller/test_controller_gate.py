"""The API's gate: the token is checked before the body is read; bodies are bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.controller import ADMIN, Harness, HarnessFactory


@pytest.fixture
def small(make_harness: HarnessFactory) -> Iterator[Harness]:
    yield make_harness(max_body_bytes=4096)


def _chunks(size: int, chunk: int = 1024) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * min(chunk, size - sent)
        sent += chunk


def test_no_body_is_read_before_the_token_is_checked(small: Harness) -> None:
    # Far over the limit and not even JSON: a caller without a valid token gets 401.
    body = b"{" * 50_000
    for headers in ({}, {"Authorization": "Bearer wrong-token-of-someone"}):
        response = small.client.put("/v1/reallocations", content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"


def test_bodies_over_the_limit_get_413_and_change_nothing(small: Harness) -> None:
    headers = small.headers(ADMIN)
    declared = small.client.put("/v1/reallocations", content=b"x" * 5000, headers=headers)
    assert declared.status_code == 413 and "4096 bytes" in declared.json()["detail"]
    streamed = small.client.put(
        "/v1/reallocations", content=_chunks(5000), headers=headers
    )  # no Content-Length: counted as it arrives
    assert streamed.status_code == 413
    within = small.client.post("/v1/hosts/h1/maintenance", json={"on": True}, headers=headers)
    assert within.status_code == 404  # read, parsed and answered: h1 is not registered


def test_failed_logins_are_counted_and_logged_without_the_token(
    small: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "a-wrong-token-nobody-has-1234"
    with caplog.at_level("WARNING", logger="fleetwise.controller.api.gate"):
        for _ in range(3):
            small.client.get("/v1/hosts", headers={"Authorization": f"Bearer {secret}"})
    metrics = small.client.get("/metrics", headers=small.headers(ADMIN)).text
    assert 'fleetwise_auth_failures_total{reason="invalid token"} 3.0' in metrics
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "invalid token" in lines[0]  # once a minute per client
    assert secret not in caplog.text
