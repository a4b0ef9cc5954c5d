"""Simulation policy names, as in the published experiments.

``npa`` and ``dvfs`` are the two baselines; every other policy is
``<overload>-<selection>-<parameter>``, e.g. ``lr-mmt-1.2``, ``thr-mc-0.8`` or
``mhod-mmt-0.2`` (native model only).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetwise.errors import ParameterError, UnknownNameError

__all__ = [
    "BASELINES",
    "CLOUDSIM_DETECTORS",
    "NATIVE_DETECTORS",
    "SELECTIONS",
    "TABLE_V_POLICIES",
    "Policy",
    "parse_policy",
]

BASELINES = ("npa", "dvfs")
CLOUDSIM_DETECTORS = ("thr", "iqr", "mad", "lr", "lrr")
NATIVE_DETECTORS = (*CLOUDSIM_DETECTORS, "otf", "mhod", "never")
SELECTIONS = ("mmt", "mc", "mu", "rs", "mmt-max-cpu")

# Parameter ranges (inclusive): THR/OTF/MHOD take a utilisation or OTF fraction, the
# others a safety parameter.
_RANGES: dict[str, tuple[float, float]] = {
    "thr": (0.05, 1.0),
    "iqr": (0.0, 10.0),
    "mad": (0.0, 10.0),
    "lr": (0.1, 10.0),
    "lrr": (0.1, 10.0),
    "otf": (0.01, 1.0),
    "mhod": (0.01, 1.0),
    "never": (0.0, 0.0),
}

TABLE_V_POLICIES: tuple[str, ...] = (
    "npa",
    "dvfs",
    "thr-mmt-1.0",
    "thr-mmt-0.8",
    "iqr-mmt-1.5",
    "mad-mmt-2.5",
    "lrr-mmt-1.2",
    "lr-mmt-1.2",
)


@dataclass(frozen=True)
class Policy:
    """A parsed policy name."""

    name: str
    baseline: str | None = None
    detector: str | None = None
    selection: str | None = None
    param: float = 0.0

    @property
    def migrates(self) -> bool:
        return self.baseline is None


def parse_policy(name: str, detectors: tuple[str, ...] = NATIVE_DETECTORS) -> Policy:
    """Parse ``name``; raises :class:`UnknownNameError` or :class:`ParameterError`."""
    text = name.strip().lower()
    if text in BASELINES:
        return Policy(name=text, baseline=text)
    head, sep, value = text.rpartition("-")
    detector, _, selection = head.partition("-")
    if not sep or not detector or not selection:
        raise UnknownNameError(
            f"cannot read policy {name!r}: expected npa, dvfs or "
            "<overload>-<selection>-<parameter> such as lr-mmt-1.2"
        )
    if detector not in detectors:
        raise UnknownNameError(
            f"unknown overload detector {detector!r} in {name!r}; known: {', '.join(detectors)}"
        )
    if selection not in SELECTIONS:
        raise UnknownNameError(
            f"unknown VM selection {selection!r} in {name!r}; known: {', '.join(SELECTIONS)}"
        )
    try:
        param = float(value)
    except ValueError:
        raise ParameterError(f"parameter {value!r} of policy {name!r} is not a number") from None
    low, high = _RANGES[detector]
    if not low <= param <= high:
        raise ParameterError(
            f"parameter {param:g} of policy {name!r} is out of range [{low:g}, {high:g}]"
        )
    return Policy(name=text, detector=detector, selection=selection, param=param)
