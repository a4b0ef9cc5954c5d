"""In-memory power control with a wake-up latency, for demos and tests."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetwise.drivers.clock import Clock
from fleetwise.drivers.power.base import PowerDriver, PowerState
from fleetwise.errors import DriverError, ParameterError

__all__ = ["SimulatedPowerDriver"]


@dataclass
class _HostPower:
    on: bool
    ready_at: float = 0.0  # when a waking host counts as ON
    wake_failures: int = 0


class SimulatedPowerDriver:
    """Hosts that sleep at once and come back ``wake_latency_s`` after a wake-up.

    A waking host reports OFF until its latency has passed. ``fail_next_wakes``
    makes wake-ups get lost, like an unanswered Wake-on-LAN packet. Pass
    :meth:`status` to a simulated fleet to make sleeping hosts unreachable.
    """

    def __init__(
        self,
        clock: Clock,
        hosts: Mapping[str, PowerState],
        *,
        wake_latency_s: float = 60.0,
    ) -> None:
        if not (math.isfinite(wake_latency_s) and wake_latency_s >= 0):
            raise ParameterError(f"wake_latency_s must be >= 0, got {wake_latency_s}")
        if PowerState.UNKNOWN in hosts.values():
            raise ParameterError("simulated hosts start either ON or OFF")
        self._clock = clock
        self._latency = wake_latency_s
        self._hosts = {name: _HostPower(on=state is PowerState.ON) for name, state in hosts.items()}
        self._lock = threading.Lock()

    def _host(self, host: str) -> _HostPower:
        power = self._hosts.get(host)
        if power is None:
            raise ParameterError(f"no simulated power settings for host {host!r}")
        return power

    def fail_next_wakes(self, host: str, count: int = 1) -> None:
        """Lose the host's next ``count`` wake-ups."""
        if count < 0:
            raise ParameterError(f"count must be >= 0, got {count}")
        with self._lock:
            self._host(host).wake_failures = count

    def wake(self, host: str) -> None:
        """Start waking the host; a host already on or waking is left alone."""
        with self._lock:
            power = self._host(host)
            if power.on:
                return
            if power.wake_failures > 0:
                power.wake_failures -= 1
                return
            power.on = True
            power.ready_at = self._clock.now() + self._latency

    def sleep(self, host: str) -> None:
        """Put the host to sleep at once; a host that is still waking cannot sleep."""
        with self._lock:
            power = self._host(host)
            if power.on and self._clock.now() < power.ready_at:
                raise DriverError(f"host {host} is still waking up")
            power.on = False

    def status(self, host: str) -> PowerState:
        """ON once awake, OFF while asleep or still waking."""
        with self._lock:
            power = self._host(host)
            awake = power.on and self._clock.now() >= power.ready_at
            return PowerState.ON if awake else PowerState.OFF


if TYPE_CHECKING:
    _implements_protocol: type[PowerDriver] = SimulatedPowerDriver
