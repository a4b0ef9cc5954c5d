"""Fixtures of the controller tests: a controller on SQLite, virtual time, simulated power."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetwise.service import VirtualClock
from tests.helpers.controller import T0, Harness, HarnessFactory, make_config, simulated_power


@pytest.fixture
def clock() -> VirtualClock:
    """Virtual time starting at ``T0``."""
    return VirtualClock(epoch=T0.timestamp())


@pytest.fixture
def make_harness(tmp_path: Path, clock: VirtualClock) -> Iterator[HarnessFactory]:
    """Build controllers on one state directory (later ones see what earlier ones stored)."""
    made: list[Harness] = []
    power = simulated_power(clock)

    def build(**overrides: Any) -> Harness:
        harness = Harness(make_config(tmp_path, **overrides), clock, power)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        harness.close()


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """A controller in automatic mode with the default settings."""
    return make_harness()
