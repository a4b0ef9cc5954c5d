"""Configuration files: YAML read into a pydantic model, every problem in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fleetwise.errors import ParameterError
from fleetwise.private_files import exposure_warning

__all__ = ["format_validation_error", "load_model", "read_mapping", "secrets_warning"]

M = TypeVar("M", bound=BaseModel)


def format_validation_error(exc: ValidationError) -> str:
    """The first problem of a validation error in one line (and how many more there are)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return f"{where}: {message}" + (more if len(errors) > 1 else "")


def read_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """The YAML mapping in ``path``; unreadable files and other YAML are one-line errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParameterError(f"{what} {path} is not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ParameterError(f"{what} {path} must be a mapping of settings")
    return raw


def load_model(path: Path, model: type[M], what: str = "config") -> M:
    """Read ``path`` and validate it as ``model``."""
    raw = read_mapping(path, what)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ParameterError(f"{what} {path}: {format_validation_error(exc)}") from None


def secrets_warning(path: Path, secrets: list[str], what: str = "config") -> str | None:
    """A warning if ``path`` holds ``secrets`` and others than its owner may read it."""
    if not secrets:
        return None
    return exposure_warning(path, f"{what} {path}, which holds {', '.join(secrets)},")
