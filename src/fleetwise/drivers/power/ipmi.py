"""Power control through a host's BMC over IPMI-over-LAN (pyghmi, imported when used)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetwise.drivers.power.base import PowerDriver, PowerState
from fleetwise.errors import DriverError, ParameterError
from fleetwise.ids import check_host_name

__all__ = ["BmcAddress", "IpmiPowerDriver"]

_SLEEP_ACTIONS = ("softoff", "off")


@dataclass(frozen=True)
class BmcAddress:
    """Where and as whom to reach a host's BMC; the password never appears in reprs."""

    address: str
    username: str
    password: str = field(repr=False)
    port: int = 623

    def __post_init__(self) -> None:
        check_host_name(self.address)
        if not 1 <= self.port <= 65535:
            raise ParameterError(f"BMC port must be in 1..65535, got {self.port}")


def _load_pyghmi() -> tuple[Any, Any]:
    try:
        command = importlib.import_module("pyghmi.ipmi.command")
        exceptions = importlib.import_module("pyghmi.exceptions")
    except ImportError as exc:
        raise DriverError("pyghmi is not installed: install the 'ipmi' extra of fleetwise") from exc
    return command, exceptions


class IpmiPowerDriver:
    """Wakes hosts with IPMI "power on" and puts them to sleep with ``sleep_action``.

    ``sleep_action`` is ``softoff`` (ask the OS to shut down, the default) or ``off``
    (cut power at once). Each call opens its own IPMI session and closes it after.
    """

    def __init__(self, bmcs: Mapping[str, BmcAddress], *, sleep_action: str = "softoff") -> None:
        if sleep_action not in _SLEEP_ACTIONS:
            raise ParameterError(
                f"sleep_action must be one of {_SLEEP_ACTIONS}, got {sleep_action!r}"
            )
        self._bmcs = dict(bmcs)
        self._sleep_action = sleep_action

    def _bmc(self, host: str) -> BmcAddress:
        bmc = self._bmcs.get(host)
        if bmc is None:
            raise ParameterError(f"no BMC configured for host {host!r}")
        return bmc

    @contextmanager
    def _session(self, host: str, action: str) -> Iterator[Any]:
        bmc = self._bmc(host)
        command, exceptions = _load_pyghmi()
        where = f"{bmc.address}:{bmc.port}"
        try:
            # Credentials go in as bytes: pyghmi registers a session being set up under
            # the credentials as passed but unregisters it under their encoded form, so
            # with str a later session to the same BMC would be handed a stale one.
            session = command.Command(
                bmc=bmc.address,
                userid=bmc.username.encode(),
                password=bmc.password.encode(),
                port=bmc.port,
                keepalive=False,
            )
        except exceptions.PyghmiException as exc:
            raise DriverError(
                f"IPMI {action} of {host}: cannot log in to BMC {where}: {exc or 'no answer'}"
            ) from exc
        try:
            yield session
        except exceptions.PyghmiException as exc:
            raise DriverError(f"IPMI {action} of {host} via {where} failed: {exc}") from exc
        finally:
            with suppress(exceptions.PyghmiException):
                session.ipmi_session.logout()

    def wake(self, host: str) -> None:
        """Request power on (does not wait for the host to boot)."""
        with self._session(host, "power on") as session:
            session.set_power("on", wait=False)

    def sleep(self, host: str) -> None:
        """Request the configured power-off action."""
        with self._session(host, self._sleep_action) as session:
            session.set_power(self._sleep_action, wait=False)

    def status(self, host: str) -> PowerState:
        """The chassis power state the BMC reports."""
        with self._session(host, "power status") as session:
            state = session.get_power().get("powerstate")
        if state == "on":
            return PowerState.ON
        if state == "off":
            return PowerState.OFF
        return PowerState.UNKNOWN


if TYPE_CHECKING:
    _implements_protocol: type[PowerDriver] = IpmiPowerDriver
