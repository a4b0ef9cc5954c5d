"""Scenarios of the native model: a data centre plus the managers' own configuration.

A scenario is a YAML file::

    name: my-rack
    datacenter:
      hosts:                                 # host types, in order
        - {name: big, count: 24, cores: 12, core_mhz: 3067, ram_mb: 131072,
           power_model: {name: ibm-x3550-x5675, sleep_w: 10}, wake_latency_s: 60}
      vms:                                   # VM sizes: by type, or per trace
        types:
          - {name: high-cpu, mhz: 2500, ram_mb: 870}
        assign: blocks                       # blocks | cycle
        per_trace: {}                        # trace file name → type name
      startup: spread                        # spread | packed
      migration_bandwidth_mb_s: 1000
      migration_degradation: 0.1             # share of a migrating VM's demand lost
    local_manager: {...}                     # the agent's section, verbatim
    global_manager: {...}                    # the controller's section, verbatim
    controller: {plan_round_spacing_s: 60, staleness_window_s: 30,
                 migration_caps: {total: 4, per_source: 1, per_destination: 2}}
    agent: {history_length: 100, usable_cpu_fraction: 1.0, overload_threshold: 0.8}

The ``local_manager`` and ``global_manager`` sections take exactly what the agent's and
the controller's configuration files take, so an operator can replay a real
configuration offline; ``controller`` and ``agent`` take the keys of those files
that matter to the simulation, with the same names and defaults.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleetwise.config_file import load_model
from fleetwise.core.execution import MigrationCaps
from fleetwise.core.global_manager import GlobalManagerConfig
from fleetwise.core.local_manager import LocalManagerConfig
from fleetwise.core.power import PowerModelSpec

__all__ = [
    "DEFAULT_SCENARIO",
    "AgentPart",
    "ControllerPart",
    "Datacenter",
    "HostType",
    "Scenario",
    "VmSizes",
    "VmType",
    "default_scenario",
    "load_scenario",
]

DEFAULT_SCENARIO = "rack"
"""The bundled scenario ``fleetwise simulate --model native`` uses by default."""

Positive = Field(gt=0, allow_inf_nan=False)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostType(_Section):
    """``count`` identical hosts (CPU: ``cores`` × ``core_mhz``)."""

    name: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=100_000)
    cores: int = Field(ge=1, le=4096)
    core_mhz: float = Positive
    ram_mb: float = Positive
    power_model: PowerModelSpec
    wake_latency_s: float = Field(60.0, ge=0, allow_inf_nan=False)


class VmType(_Section):
    """A VM size: CPU capacity in MHz (a trace's 100 %) and RAM."""

    name: str = Field(min_length=1, max_length=64)
    mhz: float = Positive
    ram_mb: float = Positive


class VmSizes(_Section):
    """How VMs get their size: ``blocks`` gives each type a contiguous share of the
    traces (in file-name order), ``cycle`` assigns types in turn; ``per_trace`` names
    the type of single traces."""

    types: tuple[VmType, ...] = Field(min_length=1)
    assign: Literal["blocks", "cycle"] = "blocks"
    per_trace: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_types(self) -> Self:
        names = [t.name for t in self.types]
        if len(set(names)) != len(names):
            raise ValueError("VM type names must be unique")
        unknown = sorted(set(self.per_trace.values()) - set(names))
        if unknown:
            raise ValueError(f"per_trace names unknown VM types: {', '.join(unknown)}")
        return self


class Datacenter(_Section):
    """Hosts, VM sizes, where VMs start and how fast they migrate."""

    hosts: tuple[HostType, ...] = Field(min_length=1)
    vms: VmSizes
    startup: Literal["spread", "packed"] = "spread"
    migration_bandwidth_mb_s: float = Positive
    migration_degradation: float = Field(0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _unique_host_types(self) -> Self:
        names = [h.name for h in self.hosts]
        if len(set(names)) != len(names):
            raise ValueError("host type names must be unique")
        return self


class ControllerPart(_Section):
    """The controller's settings that shape rounds and plans (same names as its file)."""

    plan_round_spacing_s: float = Field(60.0, gt=0, allow_inf_nan=False)
    staleness_window_s: float = Field(30.0, gt=0, allow_inf_nan=False)
    migration_caps: MigrationCaps = MigrationCaps()


class AgentPart(_Section):
    """The agents' settings that shape local decisions (same names as their file)."""

    history_length: int = Field(100, ge=2, le=100_000)
    usable_cpu_fraction: float = Field(1.0, gt=0, le=1.0)
    overload_threshold: float = Field(0.8, gt=0, le=1.0, description="for AOTF only")


class Scenario(_Section):
    """A data centre and the managers' configuration."""

    name: str = Field("scenario", min_length=1, max_length=128)
    description: str = ""
    datacenter: Datacenter
    local_manager: LocalManagerConfig = Field(default_factory=LocalManagerConfig)
    global_manager: GlobalManagerConfig = Field(default_factory=GlobalManagerConfig)
    controller: ControllerPart = ControllerPart()
    agent: AgentPart = AgentPart()

    @property
    def host_count(self) -> int:
        return sum(h.count for h in self.datacenter.hosts)


def load_scenario(path: Path) -> Scenario:
    """Read and validate the scenario file at ``path`` (one-line errors)."""
    return load_model(path, Scenario, "scenario")


def default_scenario() -> Scenario:
    """The bundled scenario: a current rack on which the bundled days consolidate."""
    source = resources.files("fleetwise.sim.native").joinpath(f"{DEFAULT_SCENARIO}.yaml")
    with resources.as_file(source) as path:
        return load_scenario(path)
