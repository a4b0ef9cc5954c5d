"""Configuration of the native model, and policy names mapped onto it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fleetwise.core.global_manager import GlobalManagerConfig
from fleetwise.core.local_manager import AlgorithmChoice, LocalManagerConfig
from fleetwise.sim.policies import NATIVE_DETECTORS, Policy, parse_policy

__all__ = ["NativeConfig", "native_config_for"]


class NativeConfig(BaseModel):
    """The managers' configuration plus the simulated fleet's physics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    local: LocalManagerConfig = LocalManagerConfig()
    placement: GlobalManagerConfig = GlobalManagerConfig()
    history_length: int = Field(30, ge=2, description="samples kept per VM by the collector")
    placement_cpu_last_n: int = Field(2, ge=1, description="VM demand = mean of last n samples")
    host_ram_mb: float = Field(4096.0, gt=0.0, description="RAM of every host (paper: 4 GB)")
    sleep_w: float = Field(10.4, ge=0.0, description="power of a sleeping host")
    wake_latency_s: float = Field(60.0, ge=0.0)
    migration_degradation: float = Field(0.1, ge=0.0, le=1.0)


def _overload_choice(policy: Policy) -> AlgorithmChoice:
    detector, value = policy.detector, policy.param
    params: dict[str, Any]
    if detector == "thr":
        params = {"threshold": value}
    elif detector in ("mad", "iqr", "lr", "lrr"):
        params = {"safety": value}
    elif detector in {"otf", "mhod"}:
        params = {"otf": value}
    else:
        params = {}
    assert detector is not None
    return AlgorithmChoice(name=detector, params=params)


def native_config_for(policy_name: str, base: NativeConfig | None = None) -> NativeConfig:
    """The native configuration running ``policy_name``'s detector and selection."""
    policy = parse_policy(policy_name, NATIVE_DETECTORS)
    base = base or NativeConfig()
    if policy.baseline is not None:
        local = base.local.model_copy(
            update={
                "underload": AlgorithmChoice(name="never"),
                "overload": AlgorithmChoice(name="never"),
            }
        )
        return base.model_copy(update={"local": local})
    assert policy.selection is not None
    local = base.local.model_copy(
        update={
            "overload": _overload_choice(policy),
            "selection": AlgorithmChoice(name=policy.selection),
        }
    )
    # Validate now so that a bad parameter is reported before the run starts.
    from fleetwise.core.local_manager import LocalManager

    LocalManager(local)
    return base.model_copy(update={"local": local})
