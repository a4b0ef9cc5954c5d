"""What a lab command leaves for the next: ``lab.json`` (shape, URL, processes) and ``lab.env``.

``lab.json`` is rewritten in one step after every change, so a later command (or one
running at the same time) always reads a whole record. ``lab.env`` holds the admin
token; both files are readable by the owner only.
"""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetwise.errors import InputError, ParameterError
from fleetwise.lab.paths import LabPaths, write_private
from fleetwise.lab.pids import ProcessId

__all__ = [
    "ENV_LAB_DIR",
    "ENV_TOKEN",
    "ENV_URL",
    "LabProcess",
    "LabRecord",
    "LabShape",
    "load_record",
    "read_token",
    "save_record",
    "write_env",
]

ENV_URL = "FLEETWISE_URL"
ENV_TOKEN = "FLEETWISE_TOKEN"
ENV_LAB_DIR = "FLEETWISE_LAB_DIR"

Role = Literal["controller", "agent"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabShape(_Frozen):
    """What the lab simulates: ``hosts`` hosts running ``vms`` VMs that replay PlanetLab
    day ``day``, ``speedup`` times faster than real time."""

    hosts: int = Field(default=3, ge=1, le=50)
    vms: int = Field(default=6, ge=0)
    day: str = "20110303"
    speedup: float = Field(default=300.0, ge=1.0, le=1000.0, allow_inf_nan=False)
    ram_mb: int = Field(default=8192, ge=1024)

    @classmethod
    def of(
        cls,
        *,
        hosts: int | None = None,
        vms: int | None = None,
        day: str | None = None,
        speedup: float | None = None,
        ram_mb: int | None = None,
    ) -> LabShape:
        """A validated shape, None meaning the default (``vms``: two per host);
        ParameterError naming the option otherwise."""
        given = {"hosts": hosts, "vms": vms, "day": day, "speedup": speedup, "ram_mb": ram_mb}
        data = {name: value for name, value in given.items() if value is not None}
        if vms is None:
            data["vms"] = 2 * (hosts if hosts is not None else cls.model_fields["hosts"].default)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            option = "--" + str(error["loc"][0]).replace("_", "-")
            message = str(error["msg"]).removeprefix("Value error, ")
            raise ParameterError(f"{option}: {message}") from None


class LabProcess(_Frozen):
    """One process of the lab; ``pid`` and ``start_ticks`` identify its last start."""

    name: str
    role: Role
    host: str | None = None
    command: tuple[str, ...]
    log: str = Field(description="log file, relative to the state directory")
    pid: int | None = None
    start_ticks: int | None = None
    started_at: float | None = Field(default=None, description="Unix time of the last start")

    @property
    def identity(self) -> ProcessId | None:
        """The identity of its last start (None if never started)."""
        return None if self.pid is None else ProcessId(self.pid, self.start_ticks)


class LabRecord(_Frozen):
    """The lab: its shape, the controller's URL and every process (controller first)."""

    version: Literal[1] = 1
    url: str
    shape: LabShape
    processes: tuple[LabProcess, ...]

    def process(self, name: str) -> LabProcess:
        """The process called ``name``; InputError naming the known ones otherwise."""
        for process in self.processes:
            if process.name == name:
                return process
        known = ", ".join(p.name for p in self.processes)
        raise InputError(f"the lab has no process {name!r}; its processes: {known}")

    def replaced(self, process: LabProcess) -> LabRecord:
        """This record with ``process`` in place of the one of the same name."""
        return self.model_copy(
            update={
                "processes": tuple(process if p.name == process.name else p for p in self.processes)
            }
        )


def load_record(paths: LabPaths) -> LabRecord | None:
    """The lab in ``paths.root``, or None if there is none; InputError if unreadable."""
    try:
        text = paths.record.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot read {paths.record}: {exc.strerror}") from None
    try:
        return LabRecord.model_validate_json(text)
    except ValidationError:
        raise InputError(f"{paths.record} is not a lab record (remove the directory)") from None


def save_record(paths: LabPaths, record: LabRecord) -> None:
    """Write the record (in one step)."""
    write_private(paths.record, record.model_dump_json(indent=2) + "\n")


def write_env(paths: LabPaths, url: str, token: str) -> None:
    """Write ``lab.env``: shell lines exporting the URL, the admin token and the state dir."""
    lines = [
        f"# fleetwise lab in {paths.root}: 'source' this file, then run fleetwise commands",
        f"export {ENV_URL}={shlex.quote(url)}",
        f"export {ENV_TOKEN}={shlex.quote(token)}",
        f"export {ENV_LAB_DIR}={shlex.quote(str(paths.root))}",
    ]
    write_private(paths.env, "\n".join(lines) + "\n")


def read_token(paths: LabPaths) -> str:
    """The admin token from ``lab.env``."""
    prefix = f"export {ENV_TOKEN}="
    try:
        lines = paths.env.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {paths.env}: {exc.strerror}") from None
    for line in lines:
        if line.startswith(prefix):
            words = shlex.split(line.removeprefix(prefix))
            if len(words) == 1:
                return words[0]
    raise InputError(f"{paths.env} holds no {ENV_TOKEN}")
