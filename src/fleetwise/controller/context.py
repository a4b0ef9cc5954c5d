"""What the controller's API and services share: configuration, store, clock, drivers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from fleetwise.controller.auth import Authenticator
from fleetwise.controller.clock import WallClock, utc_now
from fleetwise.controller.config import ControllerConfig
from fleetwise.controller.power import ConfiguredPower, PowerControl
from fleetwise.controller.serial_store import SerialStore
from fleetwise.controller.tokens import TokenHash
from fleetwise.core.lifecycle import PlanMode
from fleetwise.errors import InputError
from fleetwise.service.clock import RealClock
from fleetwise.store import Store
from fleetwise.store.inventory import get_host

__all__ = ["ControllerContext", "build_context"]

logger = logging.getLogger(__name__)


@dataclass
class ControllerContext:
    """The controller's shared parts; ``started_at`` is when this process started."""

    config: ControllerConfig
    store: Store
    clock: WallClock
    power: PowerControl
    auth: Authenticator
    started_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.now()

    def now(self) -> datetime:
        """The current wall time (UTC)."""
        return utc_now(self.clock)

    @property
    def mode(self) -> PlanMode:
        return PlanMode(self.config.mode)

    def close(self) -> None:
        """Release the store's connections and the power drivers' resources."""
        self.power.close()
        self.store.close()


def build_context(
    config: ControllerConfig,
    *,
    clock: WallClock | None = None,
    store: Store | None = None,
    power: PowerControl | None = None,
) -> ControllerContext:
    """Open the store (migrating it) and build the drivers the configuration names."""
    store = store if store is not None else SerialStore.open(config.database)

    def registered_mac(host: str) -> str | None:
        try:
            return store.read(get_host, host).mac
        except InputError:
            return None

    return ControllerContext(
        config=config,
        store=store,
        clock=clock if clock is not None else RealClock(),
        power=power if power is not None else ConfiguredPower(config, registered_mac),
        auth=Authenticator(TokenHash.parse(config.admin_token_hash), config.agent_token_hashes()),
    )
