"""Authentication and authorisation as FastAPI dependencies.

Every route declares who may call it through one of these dependencies and a tag
naming its access level (``admin``, ``agent`` or ``any``), shown in the OpenAPI
document:

* :func:`caller` – any principal (401 without a valid bearer token);
* :func:`admin` – the admin only (403 for agents);
* :func:`host_agent` – the admin or the agent of the ``{host}`` in the path (403
  for the agent of another host).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fleetwise.controller.api.gate import PRINCIPAL
from fleetwise.controller.api.params import HostInPath
from fleetwise.controller.auth import Principal
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.errors import ForbiddenError, UnauthenticatedError

__all__ = [
    "ACCESS_ADMIN",
    "ACCESS_AGENT",
    "ACCESS_ANY",
    "Admin",
    "Caller",
    "Context",
    "HostAgent",
    "admin",
    "caller",
    "context",
    "host_agent",
]

ACCESS_ADMIN = "admin"
ACCESS_AGENT = "agent"
ACCESS_ANY = "any"

_bearer = HTTPBearer(auto_error=False, description="the admin token or a host's agent token")


async def context(request: Request) -> ControllerContext:
    """The controller context the app was built with."""
    ctx = request.app.state.context
    assert isinstance(ctx, ControllerContext)
    return ctx


Context = Annotated[ControllerContext, Depends(context)]


def caller(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated principal of the request (the gate authenticated it already)."""
    principal = getattr(request.state, PRINCIPAL, None)
    if isinstance(principal, Principal):
        return principal
    if credentials is None or not credentials.credentials:
        raise UnauthenticatedError("this call needs an 'Authorization: Bearer <token>' header")
    hint = request.path_params.get("host")
    found = ctx.auth.authenticate(credentials.credentials, hint if isinstance(hint, str) else None)
    if found is None:
        raise UnauthenticatedError("the bearer token is not valid")
    return found


Caller = Annotated[Principal, Depends(caller)]


async def admin(principal: Caller) -> Principal:
    """The admin; an agent gets 403."""
    if not principal.is_admin:
        raise ForbiddenError(f"only the admin may do this, not the {principal}")
    return principal


Admin = Annotated[Principal, Depends(admin)]


async def host_agent(principal: Caller, host: HostInPath) -> Principal:
    """The admin or the agent of the path's ``{host}``."""
    if not principal.may_act_for(host):
        raise ForbiddenError(f"the {principal} may not act for host {host}")
    return principal


HostAgent = Annotated[Principal, Depends(host_agent)]
