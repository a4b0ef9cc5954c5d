"""Vocabulary of the store's records that is not a life cycle (see ``core.lifecycle``).

A request's outcome is the decision core's :class:`~fleetwise.core.round.RequestOutcome`.
"""

from __future__ import annotations

from enum import StrEnum, auto

__all__ = ["ReallocationReason"]


class ReallocationReason(StrEnum):
    """Why a host asked the global manager to move VMs away."""

    UNDERLOAD = auto()
    OVERLOAD = auto()
