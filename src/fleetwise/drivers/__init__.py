"""Drivers: the only way agents touch hosts (hypervisor and power control).

Each driver family is a small Protocol with a real implementation and a simulated
one; see :mod:`fleetwise.drivers.hypervisor` and :mod:`fleetwise.drivers.power`.
"""

from __future__ import annotations

from fleetwise.drivers.hypervisor.base import Hypervisor
from fleetwise.drivers.power.base import PowerDriver

__all__ = ["Hypervisor", "PowerDriver"]
