"""Host power models: power draw in watts as a function of CPU utilisation.

* :class:`TablePowerModel`: SPECpower measurements at 0 %, 10 %, …, 100 % load with
  linear interpolation between them, computed in the same floating-point order as
  CloudSim so that simulated energy matches it to the last bit.
* :class:`LinearPowerModel`: ``idle + (peak − idle)·u`` (Fan et al.), the model of
  the Neat energy estimates.

Both carry the power drawn while asleep (``sleep_w``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleetwise.core.types import FloatArray
from fleetwise.errors import UnknownNameError

__all__ = [
    "POWER_MODELS",
    "LinearPowerModel",
    "PowerModel",
    "PowerModelSpec",
    "TablePowerModel",
    "interpolate_tables",
    "power_model",
    "power_table",
]


def _checked(utilisation: FloatArray) -> FloatArray:
    u = np.asarray(utilisation, dtype=np.float64)
    if u.size and not (u.min() >= 0.0 and u.max() <= 1.0):
        raise ValueError("utilisation outside [0, 1]")
    return u


@dataclass(frozen=True)
class TablePowerModel:
    """Measured power at 11 load levels (0 %, 10 %, …, 100 %)."""

    name: str
    watts: tuple[float, ...]
    sleep_w: float = 0.0

    def __post_init__(self) -> None:
        if len(self.watts) != 11:
            raise ValueError(f"{self.name}: a power table needs 11 values, got {len(self.watts)}")

    @property
    def idle_w(self) -> float:
        return self.watts[0]

    @property
    def peak_w(self) -> float:
        return self.watts[10]

    def power(self, utilisation: float) -> float:
        """Watts at ``utilisation`` in [0, 1]."""
        u = utilisation
        if u < 0.0 or u > 1.0:
            raise ValueError(f"utilisation {u} outside [0, 1]")
        if u % 0.1 == 0.0:
            return self.watts[int(u * 10)]
        lo = int(np.floor(u * 10))
        hi = int(np.ceil(u * 10))
        p_lo = self.watts[lo]
        step = (self.watts[hi] - p_lo) / 10
        return p_lo + step * (u - lo / 10) * 100

    def power_array(self, utilisation: FloatArray) -> FloatArray:
        """Vectorised :meth:`power` (same arithmetic, element by element)."""
        u = _checked(utilisation)
        table = np.asarray(self.watts)
        lo = np.floor(u * 10).astype(np.intp)
        hi = np.ceil(u * 10).astype(np.intp)
        p_lo = table[lo]
        step = (table[hi] - p_lo) / 10
        out = p_lo + step * (u - lo / 10) * 100
        exact = np.fmod(u, 0.1) == 0.0
        if exact.any():
            out[exact] = table[(u[exact] * 10).astype(np.intp)]
        result: FloatArray = out
        return result


@dataclass(frozen=True)
class LinearPowerModel:
    """Power linear in utilisation between ``idle_w`` and ``peak_w``."""

    name: str
    idle_w: float
    peak_w: float
    sleep_w: float = 0.0

    def power(self, utilisation: float) -> float:
        if utilisation < 0.0 or utilisation > 1.0:
            raise ValueError(f"utilisation {utilisation} outside [0, 1]")
        return self.idle_w + (self.peak_w - self.idle_w) * utilisation

    def power_array(self, utilisation: FloatArray) -> FloatArray:
        u = _checked(utilisation)
        return self.idle_w + (self.peak_w - self.idle_w) * u


PowerModel = TablePowerModel | LinearPowerModel

# SPECpower_ssj2008 results (watts at 0 %, 10 %, …, 100 % load).
POWER_MODELS: dict[str, PowerModel] = {
    m.name: m
    for m in (
        TablePowerModel("hp-ml110-g4", (86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117)),
        TablePowerModel("hp-ml110-g5", (93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135)),
        TablePowerModel("hp-ml110-g3", (105, 112, 118, 125, 131, 137, 147, 153, 157, 164, 169)),
        TablePowerModel(
            "ibm-x3250-x3470", (41.6, 46.7, 52.3, 57.9, 65.4, 73, 80.7, 89.5, 99.6, 105, 113)
        ),
        TablePowerModel(
            "ibm-x3250-x3480", (42.3, 46.7, 49.7, 55.4, 61.8, 69.3, 76.1, 87, 96.1, 106, 113)
        ),
        TablePowerModel("ibm-x3550-x5670", (66, 107, 120, 131, 143, 156, 173, 191, 211, 229, 247)),
        TablePowerModel("ibm-x3550-x5675", (58.4, 98, 109, 118, 128, 140, 153, 170, 189, 205, 222)),
        # Fan et al. linear model with Meisner et al.'s figures (Neat's energy estimates).
        LinearPowerModel("linear-450-270", idle_w=270.0, peak_w=450.0, sleep_w=10.4),
    )
}


@functools.cache
def power_table(model: PowerModel) -> tuple[float, ...]:
    """Watts at 0 %, 10 %, …, 100 % load (exact for both kinds of model: a linear one
    interpolates linearly between its own points)."""
    if isinstance(model, LinearPowerModel):
        return tuple(model.power(i / 10) for i in range(11))
    return model.watts


def power_model(name: str) -> PowerModel:
    """A bundled power model by name."""
    try:
        return POWER_MODELS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown power model {name!r}; known: {', '.join(sorted(POWER_MODELS))}"
        ) from None


def interpolate_tables(tables: FloatArray, utilisation: FloatArray) -> FloatArray:
    """Power of many hosts at once: ``tables[i]`` (11 watts) evaluated at ``utilisation[i]``.

    Same arithmetic as :meth:`TablePowerModel.power`, element by element.
    """
    u = _checked(utilisation)
    flat = tables.reshape(-1)
    base = np.arange(0, u.size * 11, 11)
    scaled = u * 10
    lo = np.floor(scaled).astype(np.intp)
    hi = np.ceil(scaled).astype(np.intp)
    p_lo = flat.take(base + lo)
    out: FloatArray = p_lo + (flat.take(base + hi) - p_lo) / 10 * (u - lo / 10) * 100
    exact = np.fmod(u, 0.1) == 0.0
    if exact.any():
        out[exact] = flat.take(base[exact] + (u[exact] * 10).astype(np.intp))
    return out


class PowerModelSpec(BaseModel):
    """A host's power model in a configuration file: a bundled model by ``name``, 11
    measured ``watts`` (0 %, 10 %, …, 100 % load), or ``idle_w`` and ``peak_w`` of a
    linear model; ``sleep_w`` is drawn while asleep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    watts: tuple[float, ...] | None = Field(None, min_length=11, max_length=11)
    idle_w: float | None = Field(None, ge=0, allow_inf_nan=False)
    peak_w: float | None = Field(None, ge=0, allow_inf_nan=False)
    sleep_w: float = Field(10.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        linear = self.idle_w is not None or self.peak_w is not None
        kinds = sum((self.name is not None, self.watts is not None, linear))
        if kinds != 1:
            raise ValueError("give exactly one of: name, watts (11 values), idle_w with peak_w")
        if linear and (self.idle_w is None or self.peak_w is None):
            raise ValueError("a linear power model needs both idle_w and peak_w")
        if self.name is not None and self.name not in POWER_MODELS:
            known = ", ".join(sorted(POWER_MODELS))
            raise ValueError(f"unknown power model {self.name!r}; known: {known}")
        return self

    def build(self, label: str = "host") -> PowerModel:
        """The power model this spec describes."""
        if self.name is not None:
            return replace(POWER_MODELS[self.name], sleep_w=self.sleep_w)
        if self.watts is not None:
            return TablePowerModel(label, self.watts, self.sleep_w)
        assert self.idle_w is not None and self.peak_w is not None
        return LinearPowerModel(label, self.idle_w, self.peak_w, self.sleep_w)
