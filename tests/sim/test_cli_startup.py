"""The ``fleetwise`` command starts without the simulator's heavy dependencies.

Sub-commands are imported when they run, so listing them or running an admin
command loads neither numba, scipy nor matplotlib.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fleetwise.cli.main import SUBCOMMANDS, load_subcommand

HEAVY = ("numba", "scipy", "matplotlib")

# Runs the CLI in-process with the given arguments, then reports what it imported.
_PROBE = """
import json, sys
sys.argv = ["fleetwise", *json.loads(sys.argv[1])]
from fleetwise.cli.main import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def _heavy_modules_after(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=set(HEAVY)), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"FLEETWISE_URL": "http://127.0.0.1:9", "FLEETWISE_TOKEN": "t", "PATH": ""},
    )
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_module() -> None:
    probe = "import sys, fleetwise.cli.main; print(sorted(m for m in {h!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe.format(h=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        (),
        ("hosts", "--help"),
        ("hosts", "list"),
        ("vms", "list"),
        ("plans", "list"),
        ("controller", "hash-token", "--help"),
    ],
    ids=" ".join,
)
def test_help_and_admin_commands_load_no_heavy_module(args: tuple[str, ...]) -> None:
    assert _heavy_modules_after(*args) == []


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_listed_summaries_are_the_commands_own(name: str) -> None:
    command = load_subcommand(name)
    assert command.help is not None
    assert command.help.strip().splitlines()[0] == SUBCOMMANDS[name].summary
