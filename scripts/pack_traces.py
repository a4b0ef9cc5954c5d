"""Pack a folder of PlanetLab day folders into one compressed ``.npz`` per day.

Usage: ``python scripts/pack_traces.py SOURCE_DIR DEST_DIR``. Each day becomes
``DEST_DIR/<day>.npz`` holding ``names`` (file names, bytewise sorted) and
``cpu`` (uint8 matrix, one row per VM, one column per 5-minute sample).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fleetwise.traces.loader import read_trace_folder, save_day


def main(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for day_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        day = read_trace_folder(day_dir)
        save_day(day, dest / f"{day_dir.name}.npz")
        print(f"{day_dir.name}: {day.cpu.shape[0]} VMs")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
