"""Algorithm registries: building by name, parameter validation, plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import Field, ValidationError

import fleetwise.core.registry as registry_module
from fleetwise.core.overload import OVERLOAD
from fleetwise.core.placement import PLACEMENT, HostCapacity, Placement, VmDemand
from fleetwise.core.power import power_model
from fleetwise.core.registry import AlgorithmSpec, Params, Registry
from fleetwise.core.selection import SELECTION
from fleetwise.core.types import DetectorContext, SelectionContext, VmObservation
from fleetwise.core.underload import UNDERLOAD
from fleetwise.errors import InputError, ParameterError, UnknownNameError

FAMILIES: dict[str, Registry[Any]] = {
    "underload": UNDERLOAD,
    "overload": OVERLOAD,
    "selection": SELECTION,
    "placement": PLACEMENT,
}
BUILT_IN = {
    "underload": {"threshold", "last-n-average", "never"},
    "overload": {"thr", "thr-n", "mad", "iqr", "lr", "lrr", "otf", "mhod", "never"},
    "selection": {"rs", "mmt", "mmt-max-cpu", "mu", "mc"},
    "placement": {"bfd", "pabfd"},
}


class ScaleParams(Params):
    factor: float = Field(2.0, gt=0.0, le=10.0)


def scale(value: float, *, params: ScaleParams) -> float:
    return value * params.factor


def fresh_registry() -> Registry[Any]:
    registry: Registry[Any] = Registry("test-family")
    registry.register(AlgorithmSpec("scale", scale, ScaleParams))
    return registry


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_built_in_algorithm_is_registered(family: str) -> None:
    assert BUILT_IN[family] <= set(FAMILIES[family].names())


def test_build_binds_default_or_given_parameters() -> None:
    registry = fresh_registry()
    assert registry.build("scale")(3.0) == 6.0
    assert registry.build("scale", {"factor": 0.5})(3.0) == 1.5
    assert registry.build("scale", ScaleParams(factor=3.0))(3.0) == 9.0


def test_published_defaults() -> None:
    def defaults(registry: Registry[Any], name: str) -> dict[str, Any]:
        return registry.params(name).model_dump()

    assert defaults(OVERLOAD, "thr") == {"threshold": 0.8}
    assert defaults(OVERLOAD, "mad")["safety"] == 2.5
    assert defaults(OVERLOAD, "iqr")["safety"] == 1.5
    assert defaults(OVERLOAD, "lr")["safety"] == 1.2
    assert defaults(UNDERLOAD, "last-n-average") == {"threshold": 0.5, "n": 2}
    bfd = defaults(PLACEMENT, "bfd")
    assert (bfd["cpu_threshold"], bfd["ram_threshold"]) == (0.8, 0.95)
    assert defaults(PLACEMENT, "pabfd")["cpu_threshold"] == 1.0
    assert defaults(SELECTION, "mmt-max-cpu") == {"last_n": 2}


def test_a_valid_params_object_is_used_as_it_is() -> None:
    params = OVERLOAD.params("thr", {"threshold": 0.9})
    assert OVERLOAD.params("thr", params) is params


@pytest.mark.parametrize(
    ("family", "name", "params", "named"),
    [
        ("overload", "thr", {"bogus": 1}, "bogus"),
        ("overload", "thr", {"threshold": 2.5}, "threshold"),
        ("overload", "thr", {"threshold": 0.0}, "threshold"),
        ("overload", "thr", {"threshold": "high"}, "threshold"),
        ("overload", "mad", {"min_history": 2}, "min_history"),
        ("overload", "lr", {"weighting": "gaussian"}, "weighting"),
        ("overload", "lr", {"horizon": "floor"}, "horizon"),
        ("underload", "last-n-average", {"n": 0}, "n"),
        ("selection", "mmt-max-cpu", {"last_n": 0}, "last_n"),
        ("placement", "bfd", {"cpu_threshold": 1.2}, "cpu_threshold"),
        ("placement", "pabfd", {"ram_threshold": -0.1}, "ram_threshold"),
    ],
)
def test_bad_parameters_raise_a_parameter_error_naming_them(
    family: str, name: str, params: dict[str, object], named: str
) -> None:
    registry = FAMILIES[family]
    with pytest.raises(ParameterError) as info:
        registry.build(name, params)
    message = str(info.value)
    assert named in message
    assert repr(name) in message
    assert isinstance(info.value, InputError)


def test_params_of_another_algorithm_are_validated_again() -> None:
    # thr-n's parameters carry ``n``, which thr does not know.
    with pytest.raises(ParameterError, match=r"'thr': n: "):
        OVERLOAD.params("thr", OVERLOAD.params("thr-n"))


def test_parameters_are_frozen() -> None:
    params = OVERLOAD.params("thr")
    with pytest.raises(ValidationError):
        params.threshold = 0.5  # type: ignore[attr-defined]  # the point of the test


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_unknown_name_lists_the_known_ones(family: str) -> None:
    registry = FAMILIES[family]
    with pytest.raises(UnknownNameError) as info:
        registry.build("no-such-algorithm")
    message = str(info.value)
    assert "no-such-algorithm" in message
    assert family in message
    for name in registry.names():
        assert name in message


def test_registering_a_name_twice_raises() -> None:
    registry = fresh_registry()
    with pytest.raises(ValueError, match="'scale' registered twice"):
        registry.register(AlgorithmSpec("scale", scale, ScaleParams))
    assert registry.build("scale")(1.0) == 2.0  # the first registration stays


@dataclass
class FakeEntryPoint:
    name: str
    target: object

    def load(self) -> object:
        return self.target


def test_plugins_join_through_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        groups.append(group)
        return [FakeEntryPoint("double", AlgorithmSpec("double", scale, ScaleParams))]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    registry = fresh_registry()
    assert registry.names() == ["double", "scale"]
    assert registry.build("double", {"factor": 4.0})(1.5) == 6.0
    assert groups == ["fleetwise.test-family"]  # looked up once


def test_an_entry_point_that_is_not_a_spec_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        return [FakeEntryPoint("broken", scale)]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    with pytest.raises(TypeError, match="broken"):
        fresh_registry().names()


# ------------------------------------------- every algorithm runs with defaults

LOW = np.full(30, 0.1)
CTX = DetectorContext(time_step_s=300.0, migration_time_s=60.0)


@pytest.mark.parametrize("name", OVERLOAD.names())
def test_every_overload_detector_runs_with_defaults(name: str) -> None:
    decision, state = OVERLOAD.build(name)(LOW, CTX, {})
    assert decision is False  # 10 % steady load is no overload for any of them
    assert isinstance(state, Mapping)


@pytest.mark.parametrize("name", UNDERLOAD.names())
def test_every_underload_detector_runs_with_defaults(name: str) -> None:
    decision, state = UNDERLOAD.build(name)(LOW, CTX, {})
    assert decision is (name != "never")  # 10 % is below every default threshold
    assert isinstance(state, Mapping)


@pytest.mark.parametrize("name", SELECTION.names())
def test_every_selection_policy_runs_with_defaults(name: str) -> None:
    rng = np.random.default_rng(7)
    vms = tuple(
        VmObservation(f"vm{i}", ram, 1000.0, rng.uniform(0.0, 1000.0, 8))
        for i, ram in enumerate([870.0, 613.0, 1740.0])
    )
    choice = SELECTION.build(name)(vms, SelectionContext(seed=3))
    assert choice in (0, 1, 2)
    assert SELECTION.build(name)((), SelectionContext()) is None


@pytest.mark.parametrize("name", PLACEMENT.names())
def test_every_placement_runs_with_defaults(name: str) -> None:
    hosts = (
        HostCapacity("a", 3720.0, 4096.0, 1000.0, 1024.0, power=power_model("hp-ml110-g4")),
        HostCapacity("b", 5320.0, 4096.0, awake=False, power=power_model("hp-ml110-g5")),
    )
    vms = (VmDemand("x", 500.0, 613.0), VmDemand("y", 1000.0, 870.0))
    placement: Callable[..., Placement] = PLACEMENT.build(name)
    result = placement(hosts, vms)
    assert result.complete
    assert set(result.assignments) == {"x", "y"}
    assert set(result.assignments.values()) <= {"a", "b"}
