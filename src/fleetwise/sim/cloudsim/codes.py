"""Numeric codes of the model's policies, shared by compiled and plain code (no numba here)."""

from __future__ import annotations

__all__ = [
    "FALLBACK_THRESHOLD",
    "MAX_CPU_LAST_N",
    "RULE_KINDS",
    "SELECTION_KINDS",
    "rs_seed",
    "splitmix_index",
]

FALLBACK_THRESHOLD = 0.7  # THR used while a host has too little history

THR, MAD, IQR, LR, LRR = 0, 1, 2, 3, 4
RULE_KINDS = {"thr": THR, "mad": MAD, "iqr": IQR, "lr": LR, "lrr": LRR}

MMT, MU, MMT_MAX_CPU, RS, MC = 0, 1, 2, 3, 4
SELECTION_KINDS = {"mmt": MMT, "mu": MU, "mmt-max-cpu": MMT_MAX_CPU, "rs": RS, "mc": MC}
MAX_CPU_LAST_N = 2  # MMT-max-CPU's default window (``MaxCpuParams.last_n``)

_MASK = (1 << 64) - 1
_MIX = 1_000_003


def rs_seed(seed: int, tick: int, host: int, pick: int) -> int:
    """The seed of RS's ``pick``-th choice on ``host`` at ``tick`` (64 bits, wrapping)."""
    value = seed & _MASK
    for part in (tick, host, pick):
        value = (value * _MIX + part) & _MASK
    return value


def splitmix_index(seed: int, n: int) -> int:
    """A uniform index below ``n`` from ``seed`` by one SplitMix64 step (plain Python)."""
    z = (seed + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) % n
