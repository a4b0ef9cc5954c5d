"""The controller's configuration file (YAML), validated by pydantic.

Example (every key but ``admin_token_hash`` is optional; defaults shown)::

    state_dir: /var/lib/fleetwise/controller   # database and endpoint book
    database_url: sqlite:///<state_dir>/controller.db
    listen: {host: 127.0.0.1, port: 8750}
    max_body_bytes: 1048576                    # larger request bodies are refused (413)
    admin_token_hash: scrypt$14$8$1$...$...    # fleetwise controller hash-token
    hosts:                                     # agents' token hashes, power control
      - name: node1
        token_hash: scrypt$14$8$1$...$...
        power: {driver: wol+command, mac: "52:54:00:12:34:56"}
      - name: node2
        power: {driver: ipmi, address: bmc-node2, username: admin, password: ...}
    power_default: null                        # hosts without power settings never sleep
                                               # (simulated fleet: {driver: shared-fleet,
                                               #  fleet_path: /path/fleet.db})
    mode: automatic                            # or recommend (plans wait for approval)
    power_model_default: null                  # e.g. {name: hp-ml110-g5, sleep_w: 10} or
                                               # {idle_w: 90, peak_w: 250}; power-aware
                                               # placement (pabfd) needs every host's
    global_manager:                            # placement, demand window, spare hosts
      placement: {name: bfd, params: {cpu_threshold: 0.8, ram_threshold: 0.95}}
      demand_samples: 2
      spare_hosts: 0
    staleness_window_s: 30
    plan_round_spacing_s: 60
    plan_expiry_s: 600
    migration_caps: {total: 4, per_source: 1, per_destination: 2}
    max_attempts: 3
    migration_timeout_s: 600
    wake_timeout_s: 300
    heartbeat_timeout_s: 180                   # a silent host is unreachable after this
    dead_host_grace_s: 120                     # then its migrations end unknown after this
    sample_retention_s: 86400
    metrics: {window_s: 86400, energy: {active_w: 200, asleep_w: 10, transition_w: 200}}

Every duration is in seconds. A bad file raises :class:`ParameterError` with one
line naming the file, the field and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from fleetwise.config_file import load_model
from fleetwise.controller.tokens import TokenHash
from fleetwise.core.execution import MigrationCaps
from fleetwise.core.global_manager import GlobalManagerConfig
from fleetwise.core.placement import PLACEMENT
from fleetwise.core.power import PowerModel, PowerModelSpec
from fleetwise.drivers.power.command import DEFAULT_SLEEP_COMMAND, CommandTemplate
from fleetwise.drivers.power.wol import parse_mac
from fleetwise.errors import InputError
from fleetwise.ids import check_host_name
from fleetwise.store.database import normalise_url

__all__ = [
    "ControllerConfig",
    "EnergyModel",
    "FleetFilePower",
    "HostEntry",
    "IpmiPower",
    "ListenConfig",
    "PowerSettings",
    "SimulatedPower",
    "WolCommandPower",
    "load_config",
]

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _token_hash(value: str) -> str:
    try:
        TokenHash.parse(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return value


def _host_name(value: str) -> str:
    try:
        return check_host_name(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


class ListenConfig(_Section):
    """Where the REST API listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8750, ge=1, le=65535)


class EnergyModel(_Section):
    """Watts drawn by a host in each power state, for the energy estimate."""

    active_w: float = Field(default=200.0, ge=0)
    asleep_w: float = Field(default=10.0, ge=0)
    transition_w: float = Field(default=200.0, ge=0, description="while waking or going to sleep")


class MetricsConfig(_Section):
    """Efficacy figures: the window AOTF, AITF and energy are computed over."""

    window_s: Seconds = 86_400.0
    energy: EnergyModel = EnergyModel()


class SimulatedPower(_Section):
    """In-memory power control (demos and tests): sleeps at once, wakes after a latency."""

    driver: Literal["simulated"]
    wake_latency_s: float = Field(default=5.0, ge=0, allow_inf_nan=False)


class WolCommandPower(_Section):
    """Wake-on-LAN to wake, a command (normally over SSH) to sleep."""

    driver: Literal["wol+command"]
    mac: str | None = Field(default=None, description="default: the MAC the agent registered")
    broadcast: str = "255.255.255.255"
    port: int = Field(default=9, ge=1, le=65535)
    sleep_command: str = DEFAULT_SLEEP_COMMAND
    status_command: str | None = None
    command_timeout_s: Seconds = 30.0

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_mac(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("sleep_command", "status_command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CommandTemplate.parse(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value


class IpmiPower(_Section):
    """IPMI power on / soft-off through the host's BMC."""

    driver: Literal["ipmi"]
    address: str
    username: str = Field(min_length=1)
    password: SecretStr
    port: int = Field(default=623, ge=1, le=65535)
    sleep_action: Literal["softoff", "off"] = "softoff"

    _check_address = field_validator("address")(_host_name)


class FleetFilePower(_Section):
    """The power switches of a shared simulated fleet file (demos and end-to-end runs):
    a host put to sleep here is asleep for its agent too."""

    driver: Literal["shared-fleet"]
    fleet_path: Path

    @field_validator("fleet_path")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(
                f"no fleet file at {value}; create one with 'fleetwise agent sim-fleet init'"
            )
        return value


PowerSettings = Annotated[
    SimulatedPower | WolCommandPower | IpmiPower | FleetFilePower,
    Field(discriminator="driver"),
]


class HostEntry(_Section):
    """A host the controller knows in advance: its agent's token hash, power control and
    power model (for power-aware placement)."""

    name: str
    token_hash: str | None = None
    power: PowerSettings | None = None
    power_model: PowerModelSpec | None = None

    _check_name = field_validator("name")(_host_name)

    @field_validator("token_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        return None if value is None else _token_hash(value)


class ControllerConfig(_Section):
    """Everything ``fleetwise controller`` needs."""

    state_dir: Path = Path("/var/lib/fleetwise/controller")
    database_url: str | None = Field(
        default=None, description="default sqlite:///<state_dir>/controller.db"
    )
    listen: ListenConfig = ListenConfig()
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=1_073_741_824, description="larger bodies get a 413"
    )
    admin_token_hash: str
    hosts: list[HostEntry] = Field(default_factory=list)
    power_default: PowerSettings | None = Field(
        default=None, description="power control of hosts without their own; none: they never sleep"
    )
    power_model_default: PowerModelSpec | None = Field(
        default=None, description="power model of hosts without their own"
    )
    mode: Literal["automatic", "recommend"] = "automatic"
    global_manager: GlobalManagerConfig = Field(default_factory=GlobalManagerConfig)
    staleness_window_s: Seconds = 30.0
    plan_round_spacing_s: Seconds = 60.0
    plan_expiry_s: Seconds = 600.0
    executor_spacing_s: Seconds = 2.0
    migration_caps: MigrationCaps = MigrationCaps()
    max_attempts: int = Field(default=3, ge=1, le=100)
    migration_timeout_s: Seconds = 600.0
    wake_timeout_s: Seconds = 300.0
    heartbeat_timeout_s: Seconds = Field(
        default=180.0, description="a host silent for longer is unreachable: left out of placement"
    )
    dead_host_grace_s: Seconds = Field(
        default=120.0,
        description="after a host became unreachable, how long a migration to or from it may "
        "wait for another report of its VM before it ends unknown",
    )
    sample_retention_s: Seconds = 86_400.0
    retention_spacing_s: Seconds = 3_600.0
    metrics: MetricsConfig = MetricsConfig()

    _check_admin = field_validator("admin_token_hash")(_token_hash)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                normalise_url(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _placement_prerequisites(self) -> ControllerConfig:
        name = self.global_manager.placement.name
        if not PLACEMENT.spec(name).needs_power_models or self.power_model_default is not None:
            return self
        missing = [h.name for h in self.hosts if h.power_model is None]
        if missing or not self.hosts:
            which = f" (missing on {', '.join(missing)})" if missing else ""
            raise ValueError(
                f"placement {name!r} needs every host's power model: set power_model_default "
                f"or a power_model on each host{which}"
            )
        return self

    @model_validator(mode="after")
    def _unique_hosts(self) -> ControllerConfig:
        names = [h.name for h in self.hosts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"hosts listed twice: {', '.join(duplicates)}")
        return self

    @property
    def database(self) -> str:
        """The database URL to use."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'controller.db'}"

    def inline_secrets(self) -> list[str]:
        """The settings of this file that are secrets (passwords), by name."""
        found = []
        if self.database_url is not None and normalise_url(self.database_url).password:
            found.append("database_url")
        powers = [("power_default", self.power_default)]
        powers += [(f"hosts[{h.name}].power", h.power) for h in self.hosts]
        found += [f"{where}.password" for where, p in powers if isinstance(p, IpmiPower)]
        return found

    def host(self, name: str) -> HostEntry | None:
        """The configured entry of host ``name``, if any."""
        return next((h for h in self.hosts if h.name == name), None)

    def power_model(self, name: str) -> PowerModel | None:
        """Host ``name``'s power model: its own, else the default, else none."""
        entry = self.host(name)
        spec = entry.power_model if entry is not None and entry.power_model else None
        spec = spec or self.power_model_default
        return None if spec is None else spec.build(name)

    def agent_token_hashes(self) -> dict[str, TokenHash]:
        """Host name → parsed token hash of its agent."""
        return {h.name: TokenHash.parse(h.token_hash) for h in self.hosts if h.token_hash}


def load_config(path: Path) -> ControllerConfig:
    """Read and validate the YAML file at ``path``."""
    return load_model(path, ControllerConfig)
