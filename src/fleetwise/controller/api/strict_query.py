"""Unknown query parameters are refused, so that a misspelt filter never reads as none."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from fleetwise.errors import ParameterError

__all__ = ["known_query_parameters_only"]


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def known_query_parameters_only(request: Request) -> None:
    """Raise ParameterError (422) naming the first query parameter the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise ParameterError(
            f"unknown query parameter {unknown[0]!r}; this operation takes: {accepted}"
        )
