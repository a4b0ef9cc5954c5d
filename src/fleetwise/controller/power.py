"""Power control of each host, built from the configuration.

A host uses its own ``power`` settings, else ``power_default``; a host with neither
has no power control and is never put to sleep. Drivers are built on first use
and cached (a Wake-on-LAN driver is rebuilt when the host registers a new MAC); the
hosts of one shared fleet file share one open fleet.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from fleetwise.controller.config import (
    ControllerConfig,
    FleetFilePower,
    IpmiPower,
    PowerSettings,
    SimulatedPower,
    WolCommandPower,
)
from fleetwise.drivers.clock import MonotonicClock
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.drivers.power.base import PowerDriver, PowerState
from fleetwise.drivers.power.command import CommandTemplate
from fleetwise.drivers.power.ipmi import BmcAddress, IpmiPowerDriver
from fleetwise.drivers.power.simulated import SimulatedPowerDriver
from fleetwise.drivers.power.wol import WakeOnLanPowerDriver, WakeOnLanSender
from fleetwise.errors import ParameterError

__all__ = ["ConfiguredPower", "PowerControl", "SinglePower"]

MacLookup = Callable[[str], str | None]


class PowerControl(ABC):
    """Which hosts can be woken and put to sleep, and the driver that does it."""

    @abstractmethod
    def driver_for(self, host: str) -> PowerDriver | None:
        """The driver of ``host``, or None if it has no power control."""

    def can_control(self, host: str) -> bool:
        """Whether ``host`` can be put to sleep and woken."""
        return self.driver_for(host) is not None

    @abstractmethod
    def close(self) -> None:
        """Release what the drivers hold open."""


class SinglePower(PowerControl):
    """One driver for every host (tests and demos: a simulated driver)."""

    def __init__(self, driver: PowerDriver) -> None:
        self._driver = driver

    def driver_for(self, host: str) -> PowerDriver | None:
        return self._driver

    def close(self) -> None:
        """Nothing to release: the driver belongs to the caller."""


class ConfiguredPower(PowerControl):
    """Drivers built from each host's settings in the configuration."""

    def __init__(self, config: ControllerConfig, mac_lookup: MacLookup) -> None:
        self._config = config
        self._mac_lookup = mac_lookup
        self._lock = threading.Lock()
        self._drivers: dict[str, tuple[object, PowerDriver]] = {}
        self._fleets: dict[Path, SharedFleet] = {}
        self._clock = MonotonicClock()

    def _settings(self, host: str) -> PowerSettings | None:
        entry = self._config.host(host)
        if entry is not None and entry.power is not None:
            return entry.power
        return self._config.power_default

    def driver_for(self, host: str) -> PowerDriver | None:
        settings = self._settings(host)
        if settings is None:
            return None
        key: object = settings
        if isinstance(settings, WolCommandPower):
            mac = settings.mac or self._mac_lookup(host)
            if mac is None:
                return None
            key = (settings, mac)
        with self._lock:
            cached = self._drivers.get(host)
            if cached is not None and cached[0] == key:
                return cached[1]
            driver = self._build(host, settings)
            self._drivers[host] = (key, driver)
            return driver

    def close(self) -> None:
        """Close the shared fleet files opened for power control."""
        with self._lock:
            for fleet in self._fleets.values():
                fleet.close()
            self._fleets.clear()
            self._drivers.clear()

    def _build(self, host: str, settings: PowerSettings) -> PowerDriver:
        if isinstance(settings, FleetFilePower):
            path = settings.fleet_path.resolve()
            fleet = self._fleets.get(path)
            if fleet is None:
                fleet = self._fleets[path] = SharedFleet.open(path)
            return fleet.power()
        if isinstance(settings, SimulatedPower):
            return SimulatedPowerDriver(
                self._clock, {host: PowerState.ON}, wake_latency_s=settings.wake_latency_s
            )
        if isinstance(settings, WolCommandPower):
            mac = settings.mac or self._mac_lookup(host)
            if mac is None:
                raise ParameterError(f"no MAC address known for host {host}")
            timeout = settings.command_timeout_s
            status = settings.status_command
            return WakeOnLanPowerDriver(
                {host: mac},
                sender=WakeOnLanSender(settings.broadcast, settings.port),
                sleep_command=CommandTemplate.parse(settings.sleep_command, timeout),
                status_command=None if status is None else CommandTemplate.parse(status, timeout),
            )
        if isinstance(settings, IpmiPower):
            bmc = BmcAddress(
                settings.address,
                settings.username,
                settings.password.get_secret_value(),
                settings.port,
            )
            return IpmiPowerDriver({host: bmc}, sleep_action=settings.sleep_action)
        raise ParameterError(f"unknown power driver for host {host}")
