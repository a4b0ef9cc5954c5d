"""Errors of the controller's API besides those of :mod:`fleetwise.errors` and the store.

Each is bad input (nothing changed) and maps to one HTTP status: 401, 403 or 412.
"""

from __future__ import annotations

from fleetwise.errors import InputError

__all__ = ["ForbiddenError", "StaleRequestError", "UnauthenticatedError"]


class UnauthenticatedError(InputError):
    """No bearer token, or one that matches no principal (HTTP 401)."""


class ForbiddenError(InputError):
    """A known principal acting outside its rights (HTTP 403)."""


class StaleRequestError(InputError):
    """A request older than the staleness window: the state it saw may be gone (HTTP 412)."""
