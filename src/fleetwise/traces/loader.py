"""Load PlanetLab-format workload traces.

A trace folder holds one file per VM; each file holds one integer per line, the
VM's CPU utilisation in percent for consecutive 5-minute intervals. VMs are
ordered by file name in bytewise order so that runs are reproducible on every
file system. The ten PlanetLab days of the published experiments are bundled
with the package, one compressed ``.npz`` per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fleetwise.errors import TraceFormatError, UnknownNameError

__all__ = [
    "BUNDLED_DAYS",
    "TraceSet",
    "bytewise_sorted",
    "load_bundled_day",
    "load_traces",
    "read_trace_folder",
    "save_day",
]

BUNDLED_DAYS: tuple[str, ...] = (
    "20110303",
    "20110306",
    "20110309",
    "20110322",
    "20110325",
    "20110403",
    "20110409",
    "20110411",
    "20110412",
    "20110420",
)


@dataclass(frozen=True)
class TraceSet:
    """CPU utilisation traces of a set of VMs.

    ``cpu[i, k]`` is VM ``i``'s utilisation in percent (0-100) during sample ``k``.
    """

    name: str
    vm_names: tuple[str, ...]
    cpu: npt.NDArray[np.uint8]

    @property
    def vm_count(self) -> int:
        return int(self.cpu.shape[0])

    @property
    def samples(self) -> int:
        return int(self.cpu.shape[1])

    def fractions(self) -> npt.NDArray[np.float64]:
        """Utilisation as fractions (percent / 100), as float64."""
        return self.cpu.astype(np.float64) / 100.0


def bytewise_sorted(names: list[str]) -> list[str]:
    """Sort names by their UTF-8 bytes (locale- and file-system-independent)."""
    return sorted(names, key=lambda n: n.encode("utf-8", "surrogateescape"))


def _parse_trace_file(path: Path) -> list[int]:
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{path}: not a text file of integers") from exc
    values: list[int] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        token = line.strip()
        if not token:
            continue
        try:
            value = int(token)
        except ValueError:
            raise TraceFormatError(
                f"{path}:{line_no}: expected an integer percentage, got {token[:40]!r}"
            ) from None
        if not 0 <= value <= 100:
            raise TraceFormatError(f"{path}:{line_no}: {value} is outside 0..100")
        values.append(value)
    if not values:
        raise TraceFormatError(f"{path}: empty trace file")
    return values


def read_trace_folder(folder: Path) -> TraceSet:
    """Read every regular file of ``folder`` as one VM's trace.

    All traces must have the same number of samples.
    """
    if not folder.is_dir():
        raise TraceFormatError(f"{folder}: not a directory")
    names = bytewise_sorted([p.name for p in folder.iterdir() if p.is_file()])
    if not names:
        raise TraceFormatError(f"{folder}: no trace files")
    rows = [_parse_trace_file(folder / n) for n in names]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        first = len(rows[0])
        odd = next(n for n, r in zip(names, rows, strict=True) if len(r) != first)
        raise TraceFormatError(
            f"{folder / odd}: has a different number of samples than {folder / names[0]} ({first})"
        )
    cpu = np.asarray(rows, dtype=np.uint8)
    return TraceSet(name=folder.name, vm_names=tuple(names), cpu=cpu)


def save_day(traces: TraceSet, path: Path) -> None:
    """Write a trace set as a compressed ``.npz`` file."""
    np.savez_compressed(path, names=np.array(traces.vm_names), cpu=traces.cpu)


def load_bundled_day(day: str) -> TraceSet:
    """Load one of the bundled PlanetLab days by name (e.g. ``"20110303"``)."""
    if day not in BUNDLED_DAYS:
        raise UnknownNameError(f"unknown day {day!r}; bundled days: {', '.join(BUNDLED_DAYS)}")
    ref = resources.files("fleetwise.traces").joinpath("data", f"{day}.npz")
    with resources.as_file(ref) as path, np.load(path) as data:
        names = tuple(str(n) for n in data["names"])
        cpu = np.asarray(data["cpu"], dtype=np.uint8)
    return TraceSet(name=day, vm_names=names, cpu=cpu)


def load_traces(day: str | None = None, folder: Path | None = None) -> TraceSet:
    """Load a bundled day or a trace folder (exactly one of the two)."""
    if (day is None) == (folder is None):
        raise TraceFormatError("give either a bundled day or a trace folder, not both")
    if folder is not None:
        return read_trace_folder(folder)
    assert day is not None
    return load_bundled_day(day)
