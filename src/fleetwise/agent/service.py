"""The agent: one manager whose periodic tasks collect, decide, report and migrate.

Tasks (spacings from the configuration, in real seconds):

* ``collect`` (first run at start): measure the interval, queue its samples, then let
  the local manager decide and, on underload or overload, queue one request;
* ``heartbeat``: tell the controller the host is alive, with its VM list;
* ``assignments``: run the migrations the controller assigns and report them;
* ``deliver``: send what is queued (registration, VM list, samples, request, results)
  as far as the back-off allows.

Parts are built by :func:`build_agent`; tests pass their own clock, hypervisor and HTTP
transport. ``clock_speed`` is how many clock seconds pass per real second (above 1 on a
sped-up simulated fleet): the configured intervals, the detectors' time step and the HTTP
back-off are real seconds, multiplied by it to run on the clock.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import httpx

from fleetwise.agent.backoff import Backoff
from fleetwise.agent.client import ControllerClient
from fleetwise.agent.collector import Collector
from fleetwise.agent.config import AgentConfig, LibvirtSettings
from fleetwise.agent.decider import DeciderState, LocalDecider
from fleetwise.agent.executor import MigrationExecutor
from fleetwise.agent.history import UsageHistory
from fleetwise.agent.journal import ActionJournal, JournalState
from fleetwise.agent.link import ControllerLink
from fleetwise.agent.persist import JsonFile
from fleetwise.agent.reporter import Outbox, Reporter, vm_report
from fleetwise.api.schemas import HostRegistration
from fleetwise.drivers.hypervisor.base import Hypervisor
from fleetwise.drivers.hypervisor.libvirt_driver import LibvirtHypervisor
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.errors import DriverError, InputError
from fleetwise.private_files import ensure_private_dir
from fleetwise.service import FailureStreak
from fleetwise.service.clock import RealClock, WallClock
from fleetwise.service.manager import Manager, ServiceRunner

__all__ = ["Agent", "build_agent", "run_agent"]

logger = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
"""Real seconds a stopping agent waits for running migrations."""


class Agent(Manager):
    """The agent of one host."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        hypervisor: Hypervisor,
        clock: WallClock,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
        clock_speed: float = 1.0,
    ) -> None:
        super().__init__(clock, rng=rng)
        self.config = config
        self.hypervisor = hypervisor
        self._clock: WallClock = clock
        rng = rng if rng is not None else random.Random()
        state_dir = config.state_dir
        exposed = ensure_private_dir(state_dir, "state_dir")
        if exposed is not None:
            logger.warning("%s", exposed)
        http = config.http
        self.client = ControllerClient(
            str(config.controller_url),
            config.token(),
            timeout_s=http.timeout_s,
            transport=transport,
        )

        def backoff() -> Backoff:
            return Backoff(
                http.backoff_initial_s,
                http.backoff_max_s,
                http.backoff_multiplier,
                rng,
                clock_speed=clock_speed,
            )

        self.link = ControllerLink(self.client, clock, backoff)
        self.collector = Collector(
            hypervisor,
            clock,
            JsonFile(state_dir / "history.json", UsageHistory),
            history_length=config.history_length,
            usable_fraction=config.usable_cpu_fraction,
            overload_threshold=config.overload_threshold,
        )
        intervals = config.intervals
        self._collect_s = intervals.collect_s * clock_speed  # in clock seconds
        self.decider = LocalDecider(
            config.host,
            config.local_manager.model_copy(update={"time_step_s": self._collect_s}),
            JsonFile(state_dir / "detectors.json", DeciderState),
            usable_fraction=config.usable_cpu_fraction,
        )
        self.reporter = Reporter(
            config.host,
            self.link,
            clock,
            self.registration,
            JsonFile(state_dir / "outbox.json", Outbox),
            outbox_limit=http.outbox_limit,
            refusal_backoff=backoff(),
        )
        self.executor = MigrationExecutor(
            config.host,
            hypervisor,
            self.link,
            ActionJournal(JsonFile(state_dir / "actions.json", JournalState)),
            clock,
            max_concurrent=config.max_concurrent_migrations,
            progress_every_s=http.progress_every_s * clock_speed,
            clock_speed=clock_speed,
        )
        self._known_vms: frozenset[str] | None = None
        # an unreachable hypervisor or controller is logged once per doubling of the outage
        self._collect_failures = FailureStreak(logger, "collection")
        self._heartbeat_failures = FailureStreak(logger, "listing VMs for the heartbeat")
        self._describe_failures = FailureStreak(logger, "describing this host to the controller")
        self.add_periodic_task(self.collect, spacing=self._collect_s, run_immediately=True)
        self.add_periodic_task(self.heartbeat, spacing=intervals.heartbeat_s * clock_speed)
        self.add_periodic_task(
            self.assignments,
            spacing=intervals.assignment_poll_s * clock_speed,
            run_immediately=True,
        )
        self.add_periodic_task(self.deliver, spacing=intervals.delivery_s * clock_speed)

    def registration(self) -> HostRegistration:
        """This host as the controller should know it."""
        info = self.hypervisor.host_info()
        settings = self.config.hypervisor
        if isinstance(settings, LibvirtSettings):
            uri, migration_uri = settings.peer_uri or settings.uri, settings.migration_uri
        else:
            uri, migration_uri = f"sim://{self.config.host}", None
        return HostRegistration(
            cpu_cores=info.cores,
            core_mhz=info.core_mhz,
            usable_fraction=self.config.usable_cpu_fraction,
            ram_mb=info.ram_mb,
            hypervisor_uri=uri,
            migration_uri=migration_uri,
            mac=self.config.mac,
            vms=[vm_report(vm) for vm in self.hypervisor.list_vms()],
        )

    # -- lifecycle -----------------------------------------------------------------------

    def pre_start(self) -> None:
        """Register (or queue the registration when the controller is not reachable)."""
        self.deliver()

    def stop(self) -> None:
        """Let running migrations end (within a grace period), then close connections."""
        self.executor.stop(STOP_GRACE_S)
        self.client.close()
        self.hypervisor.close()

    # -- tasks -----------------------------------------------------------------------------

    def collect(self) -> None:
        """Measure, record, decide."""
        try:
            collection = self.collector.collect()
        except DriverError as exc:
            self._collect_failures.failed(exc)
            return
        self._collect_failures.succeeded()
        present = frozenset(vm.uuid for vm in collection.vms)
        if present != self._known_vms:
            self.reporter.vms_changed(collection.vms)
            self._known_vms = present
        if collection.batch is not None:
            self.reporter.enqueue(collection.batch)
            decision = self.decider.decide(
                collection,
                self.collector.history,
                self.executor.leaving(),
                migrating=self.executor.busy(),
            )
            reason = decision.request_reason
            if reason is not None:
                self.reporter.request(reason, decision.vm_ids, self._collect_s)
        self.deliver()

    def heartbeat(self) -> None:
        """Tell the controller this host is alive, with its VMs."""
        try:
            vms = self.hypervisor.list_vms()
        except DriverError as exc:
            self._heartbeat_failures.failed(exc)
            return
        self._heartbeat_failures.succeeded()
        self.reporter.heartbeat(vms)

    def assignments(self) -> None:
        """Run and report migrations assigned to this host."""
        if self.reporter.registered:
            self.executor.poll()

    def deliver(self) -> None:
        """Send what is queued, as far as the back-off allows."""
        try:
            self.reporter.deliver()
        except DriverError as exc:
            self._describe_failures.failed(exc)
            return
        self._describe_failures.succeeded()
        self.executor.report_results()


def build_agent(config: AgentConfig) -> Agent:
    """The agent with the hypervisor and clock its configuration names."""
    settings = config.hypervisor
    if isinstance(settings, LibvirtSettings):
        hypervisor: Hypervisor = LibvirtHypervisor(
            settings.uri,
            core_mhz=settings.core_mhz,
            allow_unsafe_migration=settings.allow_unsafe,
        )
        return Agent(config, hypervisor=hypervisor, clock=RealClock())
    fleet = SharedFleet.open(Path(settings.fleet_path))
    hosts = fleet.hosts()
    if config.host not in hosts:
        fleet.close()
        raise InputError(
            f"host {config.host!r} is not in fleet {settings.fleet_path}; "
            f"its hosts: {', '.join(hosts)}"
        )
    speed = fleet.speedup()
    fleet_hypervisor = fleet.hypervisor(
        config.host, poll_interval_s=settings.poll_interval_s * speed, owns_fleet=True
    )
    return Agent(config, hypervisor=fleet_hypervisor, clock=fleet.clock, clock_speed=speed)


def run_agent(config: AgentConfig) -> None:
    """Run the agent until SIGTERM or SIGINT, then stop gracefully."""
    agent = build_agent(config)
    runner = ServiceRunner([agent])
    runner.install_signal_handlers()
    logger.info("agent of %s starting; controller %s", config.host, config.controller_url)
    runner.run()
