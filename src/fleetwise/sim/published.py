"""Published figures the simulator is compared with (Beloglazov & Buyya, CCPE 2012).

Table V: medians over the ten PlanetLab days. Ratios are fractions.
"""

from __future__ import annotations

__all__ = ["TABLE_V", "TableVRow"]

from typing import NamedTuple


class TableVRow(NamedTuple):
    esv: float
    energy_kwh: float
    slav: float
    slatah: float
    pdm: float
    migrations: float


TABLE_V: dict[str, TableVRow] = {
    "npa": TableVRow(0.0, 2419.2, 0.0, 0.0, 0.0, 0.0),
    "dvfs": TableVRow(0.0, 613.6, 0.0, 0.0, 0.0, 0.0),
    "thr-mmt-1.0": TableVRow(20.12e-3, 75.36, 25.78e-5, 0.2497, 0.0010, 13_640),
    "thr-mmt-0.8": TableVRow(4.19e-3, 89.92, 4.57e-5, 0.0461, 0.0010, 17_180),
    "iqr-mmt-1.5": TableVRow(4.00e-3, 90.13, 4.51e-5, 0.0464, 0.0010, 16_930),
    "mad-mmt-2.5": TableVRow(3.94e-3, 87.67, 4.48e-5, 0.0465, 0.0010, 16_720),
    "lrr-mmt-1.2": TableVRow(2.43e-3, 87.93, 2.77e-5, 0.0398, 0.0007, 12_820),
    "lr-mmt-1.2": TableVRow(1.98e-3, 88.17, 2.33e-5, 0.0363, 0.0006, 11_850),
}
