"""The controller's FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fleetwise import __version__
from fleetwise.controller.api import actions, admin, agents, reallocations
from fleetwise.controller.api.errors import ERROR_RESPONSES, install_error_handlers
from fleetwise.controller.api.gate import AuthGate, FailureLog
from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_ANY, Admin, Caller
from fleetwise.controller.api.strict_query import known_query_parameters_only
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.metrics import RequestTimer, controller_registry

__all__ = ["create_app"]

DESCRIPTION = (
    "Hosts' agents register, report samples and ask for reallocations; the admin "
    "inspects the fleet and steers plans. Every call needs `Authorization: Bearer "
    "<token>`. Each operation's tag names who may call it: `admin`, `agent` (the "
    "admin or the agent of the host concerned) or `any` principal."
)


def create_app(context: ControllerContext) -> FastAPI:
    """An app serving the API on ``context``; nothing runs until a server calls it."""
    app = FastAPI(
        title="fleetwise controller",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(known_query_parameters_only)],
    )
    app.state.context = context
    metrics_of_app = controller_registry(context)
    registry = metrics_of_app.registry
    app.state.registry = registry
    install_error_handlers(app)
    for router in (agents.router, reallocations.router, actions.router, admin.router):
        app.include_router(router)
    app.include_router(admin.health_router)

    @app.get(
        "/metrics",
        tags=[ACCESS_ADMIN],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **ERROR_RESPONSES},
    )
    def metrics(_: Admin) -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", tags=[ACCESS_ANY], include_in_schema=False)
    def openapi(_: Caller) -> dict[str, Any]:
        """The OpenAPI document of this API."""
        return app.openapi()

    app.add_middleware(
        AuthGate,
        auth=context.auth,
        failures=FailureLog(metrics_of_app.auth_failures),
        max_body_bytes=context.config.max_body_bytes,
    )
    app.add_middleware(RequestTimer, histogram=metrics_of_app.latency)
    return app
