"""Wake-on-LAN wake-up plus a command (normally over SSH) to put hosts to sleep."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetwise.drivers.power.base import PowerDriver, PowerState
from fleetwise.drivers.power.command import (
    DEFAULT_SLEEP_COMMAND,
    CommandTemplate,
)
from fleetwise.errors import DriverError, ParameterError

__all__ = [
    "WakeOnLanPowerDriver",
    "WakeOnLanSender",
    "magic_packet",
    "parse_mac",
]

_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")


def parse_mac(mac: str) -> bytes:
    """The six bytes of a MAC written as ``aa:bb:cc:dd:ee:ff``, with ``-`` or no separator."""
    if not isinstance(mac, str) or not _MAC.fullmatch(mac.strip()):
        raise ParameterError(f"not a MAC address: {mac!r}")
    raw = bytes.fromhex(re.sub(r"[:-]", "", mac.strip()))
    if raw[0] & 0x01:
        raise ParameterError(f"{mac} is a group (multicast/broadcast) address, not a host's")
    return raw


def magic_packet(mac: str) -> bytes:
    """The Wake-on-LAN payload: six 0xFF bytes, then the MAC sixteen times (102 bytes)."""
    return b"\xff" * 6 + parse_mac(mac) * 16


@dataclass(frozen=True)
class WakeOnLanSender:
    """Sends magic packets by UDP to ``address:port`` (a broadcast address in production)."""

    address: str = "255.255.255.255"
    port: int = 9
    repeat: int = 3

    def __post_init__(self) -> None:
        try:
            ipaddress.IPv4Address(self.address)
        except ValueError as exc:
            raise ParameterError(f"not an IPv4 address: {self.address!r}") from exc
        if not 1 <= self.port <= 65535:
            raise ParameterError(f"port must be in 1..65535, got {self.port}")
        if not 1 <= self.repeat <= 10:
            raise ParameterError(f"repeat must be in 1..10, got {self.repeat}")

    def send(self, mac: str) -> None:
        """Send the magic packet for ``mac`` ``repeat`` times."""
        packet = magic_packet(mac)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                for _ in range(self.repeat):
                    sock.sendto(packet, (self.address, self.port))
        except OSError as exc:
            raise DriverError(
                f"sending Wake-on-LAN to {self.address}:{self.port} failed: {exc}"
            ) from exc


class WakeOnLanPowerDriver:
    """Wakes hosts by Wake-on-LAN and puts them to sleep by running a command.

    ``macs`` maps host names to MAC addresses. ``status_command``, if given, tells ON
    (exit 0) from OFF (any other exit); without it, or when it times out, the state
    is UNKNOWN.
    """

    def __init__(
        self,
        macs: Mapping[str, str],
        *,
        sender: WakeOnLanSender | None = None,
        sleep_command: CommandTemplate | None = None,
        status_command: CommandTemplate | None = None,
    ) -> None:
        for mac in macs.values():
            parse_mac(mac)
        self._macs = dict(macs)
        self._sender = sender or WakeOnLanSender()
        self._sleep = sleep_command or CommandTemplate.parse(DEFAULT_SLEEP_COMMAND)
        self._status = status_command

    def _mac(self, host: str) -> str:
        mac = self._macs.get(host)
        if mac is None:
            raise ParameterError(f"no MAC address configured for host {host!r}")
        return mac

    def wake(self, host: str) -> None:
        """Send the host's magic packet."""
        self._sender.send(self._mac(host))

    def sleep(self, host: str) -> None:
        """Run the sleep command; a non-zero exit or a timeout raises DriverError."""
        self._mac(host)
        self._sleep.run_checked(host)

    def status(self, host: str) -> PowerState:
        """ON or OFF from the status command, UNKNOWN without one or on timeout."""
        self._mac(host)
        if self._status is None:
            return PowerState.UNKNOWN
        try:
            result = self._status.run(host)
        except DriverError:
            return PowerState.UNKNOWN
        return PowerState.ON if result.returncode == 0 else PowerState.OFF


if TYPE_CHECKING:
    _implements_protocol: type[PowerDriver] = WakeOnLanPowerDriver
