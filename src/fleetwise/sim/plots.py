"""Plots of simulation results (PNG, via matplotlib's Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from fleetwise.sim.published import TABLE_V
from fleetwise.sim.results import SimulationResult

__all__ = ["plot_day", "plot_sweep"]


def plot_day(result: SimulationResult, path: Path) -> None:
    """Active hosts, power and migrations over the simulated day."""
    s = result.series
    hours = [t / 3600 for t in s.time_s]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    axes[0].plot(hours, s.active_hosts, color="tab:blue")
    axes[0].set_ylabel("active hosts")
    axes[1].plot(hours, [p / 1000 for p in s.power_w], color="tab:red")
    axes[1].set_ylabel("power (kW)")
    axes[2].bar(hours, s.migrations, width=300 / 3600, color="tab:green")
    axes[2].set_ylabel("migrations")
    axes[2].set_xlabel("time of day (h)")
    fig.suptitle(
        f"{result.policy} on {result.day} ({result.model} model): "
        f"{result.energy_kwh:.1f} kWh, {result.migrations} migrations, "
        f"SLAV {result.slav:.2e}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(medians: dict[str, dict[str, float]], path: Path) -> None:
    """Median energy, SLAV and migrations per policy, next to the published values."""
    policies = [p for p in medians if p not in ("npa",)]
    metrics: Sequence[tuple[str, str, float]] = (
        ("energy_kwh", "energy (kWh)", 1.0),
        ("slav", "SLAV (×10⁻⁵)", 1e5),
        ("migrations", "migrations (×10³)", 1e-3),
    )
    fig, axes = plt.subplots(1, len(metrics), figsize=(15, 4.8))
    x = range(len(policies))
    for ax, (key, label, scale) in zip(axes, metrics, strict=True):
        ours = [medians[p][key] * scale for p in policies]
        paper = [
            getattr(TABLE_V[p], key) * scale if p in TABLE_V else float("nan") for p in policies
        ]
        ax.bar([i - 0.2 for i in x], ours, width=0.4, label="fleetwise (median)")
        ax.bar([i + 0.2 for i in x], paper, width=0.4, label="published (CCPE 2012)")
        ax.set_xticks(list(x), policies, rotation=45, ha="right")
        ax.set_title(label)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
