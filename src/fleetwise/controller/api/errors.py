"""Error responses: every failure becomes ``{"detail": "<one clear sentence>"}``.

============================  ======
exception                     status
============================  ======
malformed JSON body           400
UnauthenticatedError          401
ForbiddenError                403
NotFoundError                 404
ConflictError, illegal state  409
StaleRequestError             412
other bad input, validation   422
a number too large to store   422
DriverError (database, power) 503
anything else                 500
============================  ======
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fleetwise.controller.errors import ForbiddenError, StaleRequestError, UnauthenticatedError
from fleetwise.core.lifecycle import IllegalTransition
from fleetwise.errors import ConflictError, DriverError, InputError, NotFoundError
from fleetwise.ids import HOST_NAME_PATTERN, VM_UUID_PATTERN

__all__ = ["ERROR_RESPONSES", "ErrorBody", "install_error_handlers", "validation_detail"]

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What every error response carries."""

    detail: str


_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (IllegalTransition, 409),
    (StaleRequestError, 412),
    (InputError, 422),
    (OverflowError, 422),
    (DriverError, 503),
)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Malformed request body"),
        (401, "Missing or invalid bearer token"),
        (403, "The caller may not do this"),
        (404, "Unknown host, VM, plan or action"),
        (409, "The stored state does not allow this now"),
        (422, "Invalid input"),
        (503, "The database or a driver failed"),
    )
}


def _where(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


_PLAIN = {
    "missing": "is required",
    "timezone_aware": "needs a time zone offset, as in 2025-01-06T08:00:00Z",
}
_PATTERNS = {
    VM_UUID_PATTERN: "is not a VM UUID",
    HOST_NAME_PATTERN: "is not a host name or address",
}


def _pattern_text(error: dict[str, Any]) -> str | None:
    if error.get("type") != "string_pattern_mismatch":
        return None
    return _PATTERNS.get(str(error.get("ctx", {}).get("pattern", "")))


def validation_detail(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """Status and one-sentence message for FastAPI's validation errors."""
    if not errors:
        return 422, "the request is invalid"
    first = errors[0]
    kind = str(first.get("type", ""))
    location = tuple(first.get("loc", ()))
    if kind == "json_invalid":
        return 400, "the request body is not valid JSON"
    where = _where(location)
    if kind == "missing" and location in (("body",), ()):
        return 422, "the request needs a JSON body"
    message = _PLAIN.get(kind) or _pattern_text(first) or str(first.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if kind == "union_tag_invalid":
        context = first.get("ctx", {})
        discriminator = str(context.get("discriminator", "")).strip("'")
        where = f"{where}.{discriminator}" if where else discriminator
        message = f"must be one of {context.get('expected_tags', '')}"
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return 422, f"{where or 'request'}: {message}{more}"


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, detail = validation_detail(list(exc.errors()))
    return _json(status, detail)


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc)
        if isinstance(exc, OverflowError):
            return _json(status, "a number in the request is too large to store")
        return _json(status, str(exc) or "the request failed", headers)

    return handle


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return _json(500, "internal error; the controller's log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    for exc_type, status in _STATUS:
        app.add_exception_handler(exc_type, _handler(status))
    app.add_exception_handler(Exception, _on_unexpected)
