"""Vocabulary of the store's records that is not a life cycle (see ``core.lifecycle``)."""

from __future__ import annotations

from enum import StrEnum, auto

__all__ = ["MigrationOutcome", "ReallocationReason", "RequestOutcome"]


class ReallocationReason(StrEnum):
    """Why a host asked the global manager to move VMs away."""

    UNDERLOAD = auto()
    OVERLOAD = auto()


class RequestOutcome(StrEnum):
    """What the global manager made of a reallocation request."""

    PLANNED = auto()
    NO_PLACEMENT = auto()
    NOTHING_TO_DO = auto()
    REJECTED = auto()


class MigrationOutcome(StrEnum):
    """How a live migration ended."""

    SUCCEEDED = auto()
    FAILED = auto()
