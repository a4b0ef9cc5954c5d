"""Options of the ``fleetwise`` command itself (before any sub-command)."""

from __future__ import annotations

from typing import Annotated

import typer

from fleetwise import __version__

__all__ = ["root"]


def _print_version(value: bool) -> None:
    if value:
        print(f"fleetwise {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Energy-aware consolidation of virtualisation hosts."""
