"""``fleetwise controller --config FILE`` and ``fleetwise controller hash-token``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fleetwise.controller.logsetup import configure_logging
from fleetwise.controller.tokens import generate_token, hash_token
from fleetwise.errors import ParameterError

__all__ = ["app"]

app = typer.Typer(
    help="The controller: REST API, global manager and plan executor.",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def controller(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The controller's YAML configuration.")
    ] = None,
) -> None:
    """Run the controller until SIGTERM or SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise ParameterError("give the configuration file: fleetwise controller --config FILE")
    # The server stack (store, web framework, decision core) loads only when serving, so
    # every other ``fleetwise`` command starts quickly.
    from fleetwise.controller.config import load_config
    from fleetwise.controller.runtime import prepare_state, serve

    settings = load_config(config)
    configure_logging()
    prepare_state(settings, config)
    serve(settings)


def _read_token() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    token: str = typer.prompt("Token", hide_input=True, confirmation_prompt=True)
    return token


@app.command("hash-token")
def hash_token_command(
    generate: Annotated[
        bool, typer.Option("--generate", help="Make a new random token and print it too.")
    ] = False,
) -> None:
    """Print the scrypt hash of a token read from stdin (or typed at a hidden prompt)."""
    token = generate_token() if generate else _read_token()
    hashed = str(hash_token(token))
    if generate:
        typer.echo(f"token: {token}")
        typer.echo(f"hash:  {hashed}")
    else:
        typer.echo(hashed)
