"""Simulation results: the reported metrics of one simulated day."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SimulationResult", "TickSeries"]


@dataclass(frozen=True)
class TickSeries:
    """Per-interval series for plots."""

    time_s: list[float] = field(default_factory=list)
    active_hosts: list[int] = field(default_factory=list)
    power_w: list[float] = field(default_factory=list)
    migrations: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SimulationResult:
    """Metrics of one run. Ratios are fractions (0.0363 means 3.63 %).

    ``slatah`` and ``pdm`` are ratios of sums (CloudSim's code); ``slatah_mean`` and
    ``pdm_mean`` the means of per-host / per-VM ratios (the paper's formulas).
    ``mean_migration_time_s`` is the mean planned duration of the migrations started;
    ``mean_time_before_migration_s`` is what CloudSim prints as "mean time before a VM
    migration": the mean time from a VM's first in-migration entry to its first entry
    after the migration (a VM moved twice at one tick counts once; ``cloudsim`` model).
    """

    model: str
    policy: str
    day: str
    vms: int
    hosts: int
    energy_kwh: float
    migrations: int
    slatah: float
    pdm: float
    slav: float
    esv: float
    sla_overall: float
    sla_average: float
    slatah_mean: float
    pdm_mean: float
    host_shutdowns: int
    mean_time_before_shutdown_s: float
    mean_migration_time_s: float
    aotf: float
    aitf: float
    removed_vms: int
    wall_seconds: float
    seed: int = 0
    profile: str = ""
    mean_time_before_migration_s: float = 0.0
    series: TickSeries = field(default_factory=TickSeries)

    def summary(self) -> dict[str, Any]:
        """All scalar fields (no series)."""
        data = asdict(self)
        data.pop("series")
        return data

    def to_json(self, path: Path, with_series: bool = True) -> None:
        data = asdict(self) if with_series else self.summary()
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
