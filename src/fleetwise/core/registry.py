"""Registries of named algorithms with validated parameters.

Each algorithm family (underload, overload, selection, placement) has one
:class:`Registry` mapping a name to a function and the pydantic model of its
parameters. ``Registry.build(name, params)`` validates the parameters and returns
the function with them bound. Third-party algorithms join through the Python
entry-point group ``fleetwise.<family>``; each entry point must resolve to an
:class:`AlgorithmSpec`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from fleetwise.errors import ParameterError, UnknownNameError

__all__ = ["AlgorithmSpec", "NoParams", "Params", "Registry"]

U_co = TypeVar("U_co", covariant=True)
"""A family's algorithm function as registered (parameters not bound yet)."""
U = TypeVar("U")
B = TypeVar("B")
"""The same function with its parameters bound."""


class Params(BaseModel):
    """Base of every algorithm's parameter model: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(Params):
    """The parameters of an algorithm that takes none."""


@dataclass(frozen=True)
class AlgorithmSpec(Generic[U_co]):
    """A named algorithm: ``function(*args, params=Params)`` and its parameter model.

    ``needs_power_models`` marks a placement algorithm that needs every host's power
    model; a configuration choosing it is refused when it loads without them.
    """

    name: str
    function: U_co
    params_model: type[Params]
    summary: str = ""
    needs_power_models: bool = False


def _format_validation(name: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        parts.append(f"{where}: {err['msg']}")
    return f"invalid parameters for {name!r}: " + "; ".join(parts)


class Registry(Generic[U, B]):
    """Name → algorithm for one family, extended by entry points on first lookup.

    ``U`` is the family's function as registered, ``B`` the same with its parameters
    bound, as :meth:`build` returns it.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._specs: dict[str, AlgorithmSpec[U]] = {}
        self._plugins_loaded = False

    def register(self, spec: AlgorithmSpec[U]) -> AlgorithmSpec[U]:
        if spec.name in self._specs:
            raise ValueError(f"{self.family} algorithm {spec.name!r} registered twice")
        self._specs[spec.name] = spec
        return spec

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=f"fleetwise.{self.family}"):
            spec = ep.load()
            if not isinstance(spec, AlgorithmSpec):
                raise TypeError(f"entry point {ep.name!r} is not an AlgorithmSpec")
            self.register(spec)

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._specs)

    def spec(self, name: str) -> AlgorithmSpec[U]:
        """The algorithm registered as ``name`` (entry points are loaded when the name is
        not a built-in one)."""
        if name not in self._specs:
            self._load_plugins()
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.family} algorithm {name!r}; known: {', '.join(self.names())}"
            ) from None

    def params(self, name: str, params: Mapping[str, Any] | Params | None = None) -> Params:
        """Validate ``params`` for algorithm ``name``."""
        spec = self.spec(name)
        if isinstance(params, spec.params_model):
            return params
        raw = dict(params or {}) if not isinstance(params, Params) else params.model_dump()
        try:
            return spec.params_model.model_validate(raw)
        except ValidationError as exc:
            raise ParameterError(_format_validation(name, exc)) from None

    def build(self, name: str, params: Mapping[str, Any] | Params | None = None) -> B:
        """The algorithm's function with validated parameters bound."""
        spec = self.spec(name)
        function: Callable[..., Any] = spec.function  # type: ignore[assignment]
        bound: B = functools.partial(function, params=self.params(name, params))  # type: ignore[assignment]
        return bound
