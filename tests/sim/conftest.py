"""Build the CloudSim model's compiled day once, before tests time out waiting for it."""

from __future__ import annotations

import pytest

from fleetwise.sim.cloudsim.aot import day_kernel


@pytest.fixture(scope="session", autouse=True)
def _compiled_day() -> None:
    day_kernel()
