"""What the lab's commands print: how to use a lab that came up, and its status.

``lab status --json`` prints one object with stable field names::

    {
      "state_dir": "/abs/fleetwise-lab",        the lab's state directory
      "url": "http://127.0.0.1:PORT",           the controller's URL
      "env_file": "/abs/fleetwise-lab/lab.env", FLEETWISE_URL and FLEETWISE_TOKEN
      "speedup": 300.0,                         simulated seconds per real second
      "processes": [                            the controller first, then the agents
        {"name": "controller", "role": "controller", "host": null,
         "pid": 4242, "alive": true, "log": "/abs/fleetwise-lab/logs/controller.log"},
        {"name": "host1", "role": "agent", "host": "host1", ...}
      ]
    }

``pid`` is that of the last start (null if never started); ``alive`` whether it runs.
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from fleetwise.lab.control import ProcessStatus, Up
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.record import LabRecord

__all__ = ["status_json", "status_table", "up_message"]


def status_json(paths: LabPaths, record: LabRecord, rows: list[ProcessStatus]) -> dict[str, Any]:
    """The object ``lab status --json`` prints."""
    return {
        "state_dir": str(paths.root),
        "url": record.url,
        "env_file": str(paths.env),
        "speedup": record.shape.speedup,
        "processes": [
            {
                "name": row.name,
                "role": row.role,
                "host": row.host,
                "pid": row.pid,
                "alive": row.alive,
                "log": str(row.log),
            }
            for row in rows
        ],
    }


def status_table(paths: LabPaths, record: LabRecord, rows: list[ProcessStatus]) -> Group:
    """``lab status``: the URL and one row per process."""
    running = sum(row.alive for row in rows)
    head = Text.assemble(
        ("lab ", "bold"),
        f"in {paths.root}: {running} of {len(rows)} processes running; ",
        ("controller ", "bold"),
        record.url,
    )
    table = Table(show_edge=False)
    for column in ("name", "role", "pid", "alive", "log"):
        table.add_column(column)
    for row in rows:
        alive = Text("yes", style="green") if row.alive else Text("no", style="bold red")
        pid = "-" if row.pid is None else str(row.pid)
        table.add_row(row.name, row.role, pid, alive, str(row.log.relative_to(paths.root)))
    return Group(head, table)


def up_message(paths: LabPaths, up: Up) -> list[str]:
    """What ``lab up`` prints (Rich markup): what runs, where, and commands to try."""
    record, shape = up.record, up.record.shape
    agents = len(record.processes) - 1
    how = "started again (state kept)" if up.resumed else "up"
    asleep = sorted(name for name, arrival in up.arrivals.items() if arrival == "asleep")
    lines = [
        f"[bold]lab[/]: a controller and {agents} agent{'s' if agents != 1 else ''} {how} in "
        f"{up.took_s:.1f} s; {shape.vms} VMs replay PlanetLab day {shape.day} at "
        f"{shape.speedup:g}× real time",
        f"[bold]URL[/]: {record.url}",
        f"[bold]state[/]: {paths.root} (logs in logs/, the admin token in lab.env)",
    ]
    if asleep:
        lines.append(
            f"[bold]asleep[/]: {', '.join(asleep)} (their agents register once the controller "
            "wakes them)"
        )
    commands = [
        (f"source {shlex.quote(str(paths.env))}", "sets FLEETWISE_URL, FLEETWISE_TOKEN"),
        ("fleetwise hosts list", "also: vms list, plans list"),
        ("fleetwise lab status", "also: lab crash VM, lab kill NAME, lab start NAME"),
        ("fleetwise lab down", "stops it; the state stays for the next lab up"),
    ]
    width = max(len(command) for command, _ in commands)
    lines.append("try it:")
    lines += [f"  [cyan]{escape(c.ljust(width))}[/]  [dim]# {note}[/]" for c, note in commands]
    return lines
