"""The plugin API: a pinned public module, typed registries, and an out-of-tree plugin
(``tests/plugin``, installed by ``scripts/test``) used by the simulator and the controller."""

from __future__ import annotations

import importlib.util
from importlib import resources

import numpy as np
import pytest

from fleetwise import plugins
from fleetwise.agent.config import parse_config
from fleetwise.core.local_manager import LocalManager, LocalManagerConfig
from fleetwise.core.overload import OVERLOAD
from fleetwise.core.placement import PLACEMENT
from fleetwise.core.selection import SELECTION
from fleetwise.sim.native.runner import simulate_native
from fleetwise.sim.native.scenario import Scenario, default_scenario
from fleetwise.traces.loader import TraceSet
from tests.helpers.controller import HarnessFactory, vm

PUBLIC = {
    "OVERLOAD", "PLACEMENT", "SELECTION", "UNDERLOAD", "AlgorithmSpec", "ClusterSnapshot",
    "DetectorContext", "DetectorFunction", "FleetHost", "FleetObservation", "FloatArray",
    "HostCapacity", "HostDetector", "HostObservation", "HostState", "HostTable", "Hosts",
    "InputError", "JsonState", "LocalDecision", "NoParams", "ParameterError", "Params",
    "PendingRequest", "PlacedVm", "Placement", "PlacementFn", "PlacementFunction", "PowerModel",
    "Registry", "RequestOutcome", "RoundDecision", "SelectionContext", "SelectorFunction",
    "Solution", "VmDemand", "VmObservation", "VmSelector", "VmTable",
}  # fmt: skip


def test_the_plugin_module_exports_exactly_its_documented_names() -> None:
    assert set(plugins.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(plugins, name) is not None
    assert resources.files("fleetwise").joinpath("py.typed").is_file()


@pytest.fixture(scope="module")
def example_plugin() -> None:
    if importlib.util.find_spec("fleetwise_example_plugin") is None:
        pytest.fail("the example plugin is not installed: pip install ./tests/plugin")


@pytest.mark.usefixtures("example_plugin")
def test_entry_points_add_the_plugin_algorithms_to_the_registries() -> None:
    assert "example-peak" in OVERLOAD.names()
    assert "example-largest-ram" in SELECTION.names()
    assert "example-first-fit" in PLACEMENT.names()
    detect = OVERLOAD.build("example-peak", {"threshold": 0.5, "window": 2})
    assert detect(np.array([0.9, 0.2, 0.3]), plugins.DetectorContext(), {})[0] is False
    assert detect(np.array([0.2, 0.6, 0.3]), plugins.DetectorContext(), {})[0] is True
    with pytest.raises(plugins.ParameterError, match="window"):
        OVERLOAD.build("example-peak", {"window": 0})


@pytest.mark.usefixtures("example_plugin")
def test_the_simulator_runs_the_plugin() -> None:
    base = default_scenario().model_dump()
    base["datacenter"]["hosts"] = [dict(base["datacenter"]["hosts"][0], count=6)]
    base["local_manager"] = {
        "overload": {"name": "example-peak", "params": {"threshold": 0.3, "window": 1}},
        "selection": {"name": "example-largest-ram"},
    }
    base["global_manager"] = {"placement": {"name": "example-first-fit"}}
    scenario = Scenario.model_validate(base)
    rows = [[90] * 3 + [5] * 9 for _ in range(40)]
    traces = TraceSet("t", tuple(f"vm{i:02d}" for i in range(40)), np.asarray(rows, np.uint8))
    result = simulate_native(traces, scenario=scenario)
    assert result.migrations > 0 and result.host_shutdowns > 0


@pytest.mark.usefixtures("example_plugin")
def test_the_agent_and_the_controller_run_the_plugin(make_harness: HarnessFactory) -> None:
    local = LocalManagerConfig.model_validate(
        {"overload": {"name": "example-peak"}, "selection": {"name": "example-largest-ram"}}
    )
    LocalManager(local)
    parse_config(
        {
            "host": "h1",
            "controller_url": "http://127.0.0.1:1",
            "agent_token": "a-token-for-the-tests-only",
            "state_dir": "/nonexistent/state",
            "hypervisor": {"kind": "simulated", "fleet_path": "/nonexistent/fleet.db"},
            "local_manager": local.model_dump(),
        }
    )
    harness = make_harness(global_manager={"placement": {"name": "example-first-fit"}})
    harness.register("h1", [vm(1), vm(2)])
    harness.register("h2", [vm(3)])
    harness.register("h3")
    for host, cpu in (("h1", {1: 500.0, 2: 400.0}), ("h2", {3: 300.0}), ("h3", {})):
        harness.samples(host, cpu)
    assert harness.reallocate("h1", "underload").status_code == 202
    plan = harness.plan_round()
    assert plan is not None and {a.destination_host for a in plan.actions if a.vm_uuid} == {"h2"}
