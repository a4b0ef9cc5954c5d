"""Errors the store raises besides those of :mod:`fleetwise.errors`.

Both are bad input in the sense of the exception tree: the transaction that raised
them was rolled back and nothing changed. A failing database itself surfaces as
:class:`fleetwise.errors.DriverError`.
"""

from __future__ import annotations

from fleetwise.errors import InputError

__all__ = ["ConflictError", "NotFoundError"]


class NotFoundError(InputError):
    """A host, VM, plan, action, migration or request that the store does not hold."""


class ConflictError(InputError):
    """The stored state is not the one the caller expected (it changed meanwhile)."""
