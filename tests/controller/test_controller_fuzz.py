"""Schema-driven fuzzing of the whole API, in process: the API keeps its published schema.

Each operation gets valid data, invalid data, and valid data aimed at objects that
exist (a registered host, a running plan and its actions), with the admin token.
Every check schemathesis knows applies: no 5xx, responses as published, data the
schema allows is never refused as invalid (422) and data it forbids never accepted.
A request older than the staleness window is valid yet answered 412, by design.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from tests.helpers.controller import ADMIN, Harness, HarnessFactory

# (generation mode, examples per operation, aim at existing objects)
RUNS = (
    (schemathesis.GenerationMode.POSITIVE, 8, False),
    (schemathesis.GenerationMode.POSITIVE, 6, True),
    (schemathesis.GenerationMode.NEGATIVE, 6, False),
)

CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412"]
            },
        }
    }
)


@pytest.fixture
def seeded(make_harness: HarnessFactory) -> tuple[Harness, dict[str, Any]]:
    harness = make_harness()
    harness.build_fleet({"h1": {1: 400.0}, "h2": {2: 1500.0}})
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    harness.execute()
    return harness, {"host": "h1", "plan_id": plan.id, "action_id": plan.actions[0].id}


def _fuzz(
    operation: Any,
    mode: schemathesis.GenerationMode,
    examples: int,
    path_parameters: dict[str, Any] | None,
    headers: dict[str, str],
    failures: list[str],
) -> int:
    calls = 0

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    def check(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, headers=headers)
        except FailureGroup as exc:  # every failed check at once
            failures.append(
                f"{case.method} {case.formatted_path} {case.body!r} -> "
                f"{response.status_code} {response.text[:200]}: {str(exc)[:400]}"
            )

    check()
    return calls


def test_every_operation_keeps_its_published_schema(
    seeded: tuple[Harness, dict[str, Any]],
) -> None:
    harness, existing = seeded
    headers = harness.headers(ADMIN)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", harness.app, config=CONFIG, headers=headers
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    calls = 0
    for operation in operations:
        for mode, examples, aimed in RUNS:
            names = [n for n in existing if "{" + n + "}" in operation.path]
            if aimed and not names:
                continue
            fixed = {n: existing[n] for n in names} if aimed else None
            calls += _fuzz(operation, mode, examples, fixed, headers, failures)
    assert failures == [], "\n".join(failures)
    assert calls >= 200
