"""Host overload tests as CloudSim 3.0.3 applies them (built on the core's statistics).

The host history is the newest-first array ``H`` of summed VM utilisation histories
(trailing zeros trimmed) and ``rho`` the host's current requested utilisation.
THR, MAD and IQR compare ``rho`` with their threshold; LR/LRR extrapolate ``H``.
Too little history falls back to a static 0.7 threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fleetwise.core.overload.regression import bisquare_weights, fit_line, tricube_weights
from fleetwise.core.overload.statistics import iqr, mad
from fleetwise.core.types import FloatArray
from fleetwise.errors import UnknownNameError
from fleetwise.sim.cloudsim.codes import FALLBACK_THRESHOLD

__all__ = ["FALLBACK_THRESHOLD", "CloudSimDetector"]

_X10 = np.arange(1.0, 11.0)
_CENTRED_X10 = _X10 - 5.5


@dataclass(frozen=True)
class CloudSimDetector:
    """One of CloudSim's overload policies with its parameter.

    ``lr_weighting="none"`` is what 3.0.3 runs (its weights are never applied);
    ``"tricube"`` restores the 2012 weighted regression.
    """

    kind: Literal["thr", "mad", "iqr", "lr", "lrr"]
    param: float
    lr_weighting: Literal["none", "tricube"] = "none"

    def __post_init__(self) -> None:
        if self.kind not in ("thr", "mad", "iqr", "lr", "lrr"):
            raise UnknownNameError(f"unknown overload policy {self.kind!r}")

    def overloaded(self, history: FloatArray, rho: float) -> bool:
        """Decide for a host with newest-first trimmed ``history`` and utilisation ``rho``."""
        if self.kind == "thr":
            return rho > self.param
        n = history.size
        if self.kind in ("mad", "iqr"):
            if n < 12:
                return rho > FALLBACK_THRESHOLD
            return rho > 1.0 - self.param * self.spread(history)
        if n < 10:
            return rho > FALLBACK_THRESHOLD
        return self.param * self.prediction(history) >= 1.0

    def spread(self, history: FloatArray) -> float:
        """MAD or IQR of ``history`` (at least 12 values)."""
        return mad(history) if self.kind == "mad" else iqr(history)

    def prediction(self, history: FloatArray) -> float:
        """The next utilisation extrapolated from the newest 10 values of ``history``."""
        y = history[9::-1]
        if self.lr_weighting == "none":
            # Ordinary least squares at x = 1..10 evaluated at x = 11: ȳ + 5.5·b.
            slope = float(_CENTRED_X10 @ y) / 82.5
            return float(y.sum()) / 10.0 + 5.5 * slope
        # The 2012 weighted regression (tricube, then bisquare for LRR).
        a, b = fit_line(_X10, y, tricube_weights(10) ** 2)
        if self.kind == "lrr":
            residuals = y - (a + b * _X10)
            a, b = fit_line(_X10, y, (tricube_weights(10) * bisquare_weights(residuals)) ** 2)
        return a + b * 11.0
