"""The agent's configuration file (YAML), validated into :class:`AgentConfig`.

Example (every key but ``host``, ``controller_url``, ``state_dir``, ``hypervisor`` and
one of the two token keys is optional; defaults shown)::

    host: node1                                # the name the controller knows it by
    controller_url: http://controller:8750
    agent_token_file: /etc/fleetwise/agent.token   # or agent_token: <token>
    state_dir: /var/lib/fleetwise/agent        # history, detector state, outbox, journal
    hypervisor: {kind: libvirt, uri: "qemu:///system", peer_uri: null,
                 migration_uri: null, allow_unsafe: false, core_mhz: null}
    # a host of a shared simulated fleet instead (fleetwise agent sim-fleet init):
    # hypervisor: {kind: simulated, fleet_path: /path/fleet.db, poll_interval_s: 1}
    intervals: {collect_s: 300, heartbeat_s: 30, assignment_poll_s: 5, delivery_s: 1}
    history_length: 100
    usable_cpu_fraction: 1.0
    overload_threshold: 0.8                    # for the overload log only
    local_manager:                             # time_step_s follows intervals.collect_s
      underload: {name: last-n-average, params: {threshold: 0.5, n: 2}}
      overload: {name: thr, params: {threshold: 0.8}}
      selection: {name: mmt-max-cpu, params: {last_n: 2}}
      migration_bandwidth_mb_s: 62.5             # for the migration-time estimate
      max_vms_per_request: 0                     # 0: select until not overloaded
    http: {timeout_s: 10, backoff_initial_s: 1, backoff_max_s: 60, backoff_multiplier: 2,
           outbox_limit: 1000, progress_every_s: 5}
    max_concurrent_migrations: 4
    mac: null                                  # for Wake-on-LAN, e.g. 52:54:00:12:34:56
    log_level: info

Every duration (``intervals``, ``poll_interval_s``, ``http``, ``local_manager.time_step_s``)
is in **real seconds**. On a shared simulated fleet whose clock runs ``speedup`` times
faster than real time, the agent multiplies them by the speed-up: ``collect_s: 1`` on a
fleet at 300× collects once per 300 simulated seconds, the step of the PlanetLab traces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from fleetwise.core.local_manager import LocalManager, LocalManagerConfig
from fleetwise.errors import InputError, ParameterError
from fleetwise.ids import check_host_name

__all__ = [
    "AgentConfig",
    "HttpSettings",
    "Intervals",
    "LibvirtSettings",
    "SimulatedSettings",
    "load_config",
    "parse_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LibvirtSettings(_Section):
    """A libvirt host: ``uri`` to connect locally, ``peer_uri`` for peers migrating here."""

    kind: Literal["libvirt"]
    uri: str = Field(default="qemu:///system", min_length=1)
    peer_uri: str | None = Field(default=None, description="URI other hosts use to reach this one")
    migration_uri: str | None = Field(
        default=None, description="data-stream address, e.g. tcp://10.0.0.2"
    )
    allow_unsafe: bool = Field(default=False, description="allow migration without shared storage")
    core_mhz: float | None = Field(
        default=None, gt=0, description="override the reported CPU frequency"
    )


class SimulatedSettings(_Section):
    """A host of a shared simulated fleet (see ``fleetwise agent sim-fleet init``)."""

    kind: Literal["simulated"]
    fleet_path: Path
    poll_interval_s: float = Field(default=1.0, gt=0, description="migration polling (real s)")


class Intervals(_Section):
    """How often the periodic tasks run, in real seconds; decisions follow each collection.

    On a sped-up simulated fleet, each interval covers ``speedup`` times as many
    simulated seconds.
    """

    collect_s: float = Field(default=300.0, gt=0)
    heartbeat_s: float = Field(default=30.0, gt=0)
    assignment_poll_s: float = Field(default=5.0, gt=0)
    delivery_s: float = Field(default=1.0, gt=0, description="how often queued reports are retried")


class HttpSettings(_Section):
    """Talking to the controller: timeouts, back-off and how much to queue (real seconds)."""

    timeout_s: float = Field(default=10.0, gt=0)
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    outbox_limit: int = Field(
        default=1000, ge=1, description="sample batches kept while unreachable"
    )
    progress_every_s: float = Field(
        default=5.0, ge=0, description="min spacing of progress reports"
    )

    @model_validator(mode="after")
    def _ordered(self) -> HttpSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self


HostName = Annotated[str, Field(min_length=1, max_length=255)]


class AgentConfig(_Section):
    """Everything one agent needs; built from the YAML file by :func:`load_config`."""

    host: HostName
    controller_url: AnyHttpUrl
    agent_token: SecretStr | None = None
    agent_token_file: Path | None = None
    state_dir: Path
    hypervisor: LibvirtSettings | SimulatedSettings = Field(discriminator="kind")
    intervals: Intervals = Field(default_factory=Intervals)
    history_length: int = Field(default=100, ge=2, le=100_000)
    usable_cpu_fraction: float = Field(default=1.0, gt=0, le=1.0)
    overload_threshold: float = Field(
        default=0.8, gt=0, le=1.0, description="for the overload log only"
    )
    local_manager: LocalManagerConfig = Field(
        default_factory=lambda: LocalManagerConfig.model_validate({})
    )
    http: HttpSettings = Field(default_factory=HttpSettings)
    max_concurrent_migrations: int = Field(default=4, ge=1, le=64)
    mac: str | None = Field(default=None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("host")
    @classmethod
    def _plain_host_name(cls, value: str) -> str:
        try:
            return check_host_name(value)
        except ParameterError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _time_step_follows_collection(cls, data: Any) -> Any:
        """The detectors' time step is the collection interval unless it says otherwise."""
        if not isinstance(data, dict):
            return data
        local, intervals = data.get("local_manager"), data.get("intervals")
        collect = Intervals.model_fields["collect_s"].default
        if isinstance(intervals, dict):
            collect = intervals.get("collect_s", collect)
        if local is None:
            return {**data, "local_manager": {"time_step_s": collect}}
        if isinstance(local, dict) and "time_step_s" not in local:
            return {**data, "local_manager": {**local, "time_step_s": collect}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> AgentConfig:
        if (self.agent_token is None) == (self.agent_token_file is None):
            raise ValueError("give exactly one of agent_token and agent_token_file")
        if self.local_manager.time_step_s != self.intervals.collect_s:
            raise ValueError(
                "local_manager.time_step_s must equal intervals.collect_s (or be left out)"
            )
        return self

    def inline_secrets(self) -> list[str]:
        """The settings of this file that are secrets, by name."""
        return ["agent_token"] if self.agent_token is not None else []

    def token(self) -> str:
        """The agent token, read from its file when configured so; never logged."""
        if self.agent_token is not None:
            value = self.agent_token.get_secret_value().strip()
        else:
            assert self.agent_token_file is not None
            try:
                value = self.agent_token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InputError(
                    f"cannot read agent_token_file {self.agent_token_file}: {exc.strerror}"
                ) from exc
        if not value:
            raise InputError("the agent token is empty")
        return value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_config(data: object, source: str = "config") -> AgentConfig:
    """Validate already-parsed YAML; InputError with one line naming the bad field."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of settings at the top level")
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {_first_error(exc)}") from None
    try:
        LocalManager(config.local_manager)  # unknown algorithms and bad parameters fail here
    except InputError as exc:
        raise InputError(f"{source}: local_manager: {exc}") from None
    try:
        config.token()
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return config


def load_config(path: Path) -> AgentConfig:
    """Read and validate an agent configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML{where}") from None
    return parse_config(data, str(path))
