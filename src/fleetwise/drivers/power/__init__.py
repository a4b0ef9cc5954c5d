"""Power drivers: Wake-on-LAN plus a sleep command, IPMI, and a simulated one."""

from __future__ import annotations

from fleetwise.drivers.power.base import PowerDriver, PowerState

__all__ = ["PowerDriver", "PowerState"]
