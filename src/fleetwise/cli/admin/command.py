"""What every admin command shares: the connection options, ``--json`` and errors.

An admin command is written as a function of its own arguments that returns the
:class:`~fleetwise.api.client.Call` to make; :func:`admin_command` adds ``--url``,
``--token``, ``--token-file`` and ``--json``, makes the call and prints the answer:
its JSON body as the controller sent it (``--json``), or the command's rendering.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast, get_type_hints

import typer
from rich.console import Console, RenderableType
from typer.core import TyperCommand, TyperGroup

from fleetwise.api.client import AdminClient, Call, Reply
from fleetwise.errors import InputError

__all__ = ["DEFAULT_URL", "AdminCommand", "AdminGroup", "admin_command", "admin_group"]

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8750"

UrlOption = Annotated[str, typer.Option(envvar="FLEETWISE_URL", help="Controller URL.")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="FLEETWISE_TOKEN", help="Admin token.", show_default=False)
]
TokenFileOption = Annotated[Path | None, typer.Option(help="File holding the admin token.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the controller's JSON answer, nothing else.")
]


def _option(name: str, annotation: Any, default: object) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


_SHARED = (
    _option("url", UrlOption, DEFAULT_URL),
    _option("token", TokenOption, None),
    _option("token_file", TokenFileOption, None),
    _option("as_json", JsonOption, False),
)
"""The options every admin command takes, after its own arguments."""


_USAGE_ERROR: type[Exception] = next(
    k for k in typer.BadParameter.__mro__ if k.__name__ == "UsageError"
)
"""Click's usage error (typer ships its own copy of click, found through a public class)."""


@contextmanager
def _one_line(ctx: Any) -> Iterator[None]:
    """Turn a usage error (missing argument, bad value, unknown option or command) into
    an :class:`InputError`: one ``error:`` line and exit status 2."""
    try:
        yield
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # not an error: the help is shown
            raise
        message = str(cast(Any, exc).format_message()).rstrip(".")
        message = message[:1].lower() + message[1:]
        path = ctx.command_path
        raise InputError(f"{path}: {message} (see {path} --help)") from None


class AdminCommand(TyperCommand):
    """A command whose usage errors are one ``error:`` line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with _one_line(ctx):
            return super().parse_args(ctx, args)


class AdminGroup(TyperGroup):
    """A group whose usage errors (an unknown command) are one ``error:`` line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with _one_line(ctx):
            return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        with _one_line(ctx):
            return super().resolve_command(ctx, args)


def admin_group(help_text: str) -> typer.Typer:
    """A group of admin commands (``fleetwise hosts …``)."""
    return typer.Typer(help=help_text, no_args_is_help=True, cls=AdminGroup)


def connect(url: str, token: str | None, token_file: Path | None) -> AdminClient:
    """A client of the controller at ``url`` with the admin token given or read."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read token file {token_file}: {exc.strerror}") from None
    if not token:
        raise InputError("no admin token: pass --token, --token-file or set FLEETWISE_TOKEN")
    return AdminClient(url, token)


def show(reply: Reply[T], as_json: bool, render: Callable[[T], RenderableType]) -> None:
    """Print the answer: its JSON body (indented, fields in the controller's order) or
    ``render`` of its value: a message as it is, a table fitted to the terminal's width
    without trailing blanks."""
    if as_json:
        sys.stdout.write(json.dumps(reply.body, indent=2, ensure_ascii=False) + "\n")
        return
    shown = render(reply.value)
    if isinstance(shown, str):  # a message: one line however wide
        sys.stdout.write(shown + "\n")
        return
    console = Console(highlight=False)
    with console.capture() as captured:
        console.print(shown)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def admin_command(
    app: typer.Typer | None, name: str, render: Callable[[T], RenderableType]
) -> Callable[[Callable[..., Call[T]]], Callable[..., None]]:
    """Make the decorated function an admin command: it takes the command's own
    arguments and returns the call to make; the command adds the shared options and
    shows the answer with ``render``. It is registered as ``name`` of ``app`` (with
    ``None``, the caller registers it with ``cls=AdminCommand``)."""

    def wrap(build: Callable[..., Call[T]]) -> Callable[..., None]:
        hints = get_type_hints(build, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name])
            for p in inspect.signature(build).parameters.values()
        ]

        @functools.wraps(build)
        def command(**kwargs: Any) -> None:
            shared = {p.name: kwargs.pop(p.name) for p in _SHARED}
            call = build(**kwargs)
            with connect(shared["url"], shared["token"], shared["token_file"]) as client:
                reply = client.send(call)
            show(reply, shared["as_json"], render)

        parameters = [*own, *_SHARED]
        command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        if app is not None:
            app.command(name, cls=AdminCommand)(command)
        return command

    return wrap
