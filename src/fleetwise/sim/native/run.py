"""One day of the native model: the live system's managers on a simulated data centre.

The shell does what the agents and the controller do, in virtual time, and decides
nothing itself:

* every 300 s each active host's **collector** records what its VMs got, and its
  **local manager** (:class:`~fleetwise.core.local_manager.LocalManager`) decides on
  the host's own history; a request joins the pending requests;
* every ``plan_round_spacing_s`` a **round**
  (:func:`~fleetwise.core.round.plan_round`) decides on an observation built the way
  the controller builds it;
* the round's plan is carried out with the **executor's rules**
  (:mod:`fleetwise.core.execution`): actions start when what they wait for is done,
  migrations within the caps, a sleep only when the host may sleep. Hosts wake after
  their latency; a migration takes RAM / bandwidth.

Events at the same instant run in a fixed order: completions, then the collection,
then the round.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetwise.core.execution import MigrationSlots, sleep_blocker
from fleetwise.core.lifecycle import ActionKind, ActionState
from fleetwise.core.local_manager import HostObservation, LocalManager
from fleetwise.core.placement import PLACEMENT, HostCapacity, VmDemand
from fleetwise.core.planner import PlannedAction, build_plan
from fleetwise.core.round import (
    FleetHost,
    FleetObservation,
    MigrationInFlight,
    PendingRequest,
    RequestOutcome,
    RoundConfig,
    RoundDecision,
    VmTable,
    plan_round,
)
from fleetwise.core.types import FloatArray, JsonState, VmObservation
from fleetwise.errors import InputError
from fleetwise.sim.native.datacenter import NativeDatacenter, build_datacenter
from fleetwise.sim.native.meter import ACTIVE, ASLEEP, HOST_POWER, WAKING, FleetMeter
from fleetwise.sim.native.plan import PlanRun
from fleetwise.sim.native.scenario import Scenario
from fleetwise.traces.loader import TraceSet

__all__ = ["STEP_S", "NativeRun", "RoundRecord"]

STEP_S = 300.0
"""The traces' sampling step: one collection per step."""

IntArray = npt.NDArray[np.intp]

# Event kinds in the order they run at the same instant.
_WAKE_DONE, _MIGRATION_DONE, _COLLECT, _ROUND = range(4)


@dataclass(frozen=True)
class RoundRecord:
    """A round's time, what it observed and what it decided (kept when recording)."""

    time_s: float
    observation: FleetObservation
    decision: RoundDecision


@dataclass
class _Tally:
    migrations: int = 0
    migration_time_s: float = 0.0
    shutdowns: int = 0
    plans: int = 0
    outcomes: dict[RequestOutcome, int] = field(default_factory=dict)


class NativeRun:
    """One simulated day; ``manage=False`` runs without any manager (the DVFS baseline)."""

    def __init__(
        self, traces: TraceSet, scenario: Scenario, *, manage: bool = True, record: bool = False
    ) -> None:
        self.scenario = scenario
        self.dc: NativeDatacenter = build_datacenter(scenario, traces)
        self.samples = traces.cpu.astype(np.float64) / 100.0
        self.manage = manage
        self.record = record
        dc = self.dc
        n, m = dc.hosts, dc.vms
        self.capacity = dc.host_mhz * scenario.agent.usable_cpu_fraction
        self.vm_host: IntArray = np.full(m, -1, dtype=np.intp)
        self.moving_to: IntArray = np.full(m, -1, dtype=np.intp)
        self.power: IntArray = np.full(n, ASLEEP, dtype=np.intp)
        self.maintenance = np.zeros(n, dtype=bool)
        self.history_length = scenario.agent.history_length
        self.history = np.zeros((m, self.history_length))
        self.filled = 0
        self.local_len: IntArray = np.zeros(m, dtype=np.intp)
        self.detectors: dict[int, dict[str, JsonState]] = {}
        self.decisions: IntArray = np.zeros(n, dtype=np.intp)
        self.pending: list[PendingRequest] = []
        self._next_request = 0
        self.plan: PlanRun | None = None
        self.tally = _Tally()
        self.rounds: list[RoundRecord] = []
        self.meter = FleetMeter(
            dc.host_mhz,
            dc.power_tables,
            dc.sleep_w,
            scenario.datacenter.migration_degradation,
            hot_fraction=scenario.agent.overload_threshold * scenario.agent.usable_cpu_fraction,
        )
        self.meter.start(m)
        self.local = LocalManager(scenario.local_manager)
        timing = scenario.controller
        self.rules = RoundConfig(
            global_manager=scenario.global_manager,
            request_max_age_s=timing.staleness_window_s + timing.plan_round_spacing_s,
        )
        self._host_index = {h: i for i, h in enumerate(dc.host_ids)}
        self._vm_index = {v: i for i, v in enumerate(dc.vm_ids)}
        self._vm_obs: list[VmObservation | None] = [None] * m
        self._views: dict[int, tuple[tuple[VmObservation, ...], bool]] = {}
        self._dirty: set[int] = set()
        self._events: list[tuple[float, int, int, int, int]] = []
        self._sequence = 0
        self._running: dict[int, int] = {}  # plan action seq → VM index, per migration
        self._demand: FloatArray = np.zeros(m)
        self._placement_version = 0
        self._placed_at = -1
        self._placed_on: tuple[str, ...] = ()
        self.now = 0.0
        self.series_time: list[float] = []
        self.series_active: list[int] = []
        self.series_power: list[float] = []
        self.series_migrations: list[int] = []

    # ------------------------------------------------------------------ start-up
    def place_at_start(self) -> None:
        """Put every VM on a host: spread over all hosts, or packed by the placement."""
        dc = self.dc
        if self.scenario.datacenter.startup == "spread":
            free = dc.host_ram.copy()
            for v in range(dc.vms):
                for k in range(dc.hosts):
                    h = (v + k) % dc.hosts
                    if free[h] >= dc.vm_ram[v]:
                        break
                else:
                    raise InputError(f"VM {dc.vm_ids[v]} fits on no host's RAM")
                self.vm_host[v] = h
                free[h] -= dc.vm_ram[v]
            self.power[:] = ACTIVE
            return
        choice = self.scenario.global_manager.placement
        place = PLACEMENT.build(choice.name, {**choice.params, "all_or_nothing": True})
        hosts = tuple(
            HostCapacity(
                dc.host_ids[h],
                float(self.capacity[h]),
                float(dc.host_ram[h]),
                awake=False,
                power=dc.power_models[h],
            )
            for h in range(dc.hosts)
        )
        first = self.samples[:, 0] * dc.vm_mhz
        vms = tuple(
            VmDemand(dc.vm_ids[v], float(first[v]), float(dc.vm_ram[v])) for v in range(dc.vms)
        )
        placement = place(hosts, vms)
        if not placement.complete:
            raise InputError(f"{len(placement.unplaced)} VMs fit on none of the {dc.hosts} hosts")
        for vm_id, host_id in placement.assignments.items():
            self.vm_host[self._vm_index[vm_id]] = self._host_index[host_id]
        self.power[np.unique(self.vm_host)] = ACTIVE

    # ---------------------------------------------------------------- the loop
    def _push(self, at: float, kind: int, a: int = -1, b: int = -1) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (at, kind, self._sequence, a, b))

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Simulate the whole day."""
        self.place_at_start()
        steps = self.samples.shape[1]
        end = steps * STEP_S
        for k in range(1, steps + 1):
            self._push(k * STEP_S, _COLLECT, k)
        if self.manage:
            spacing = self.scenario.controller.plan_round_spacing_s
            j = 1
            while j * spacing < end:
                self._push(j * spacing, _ROUND)
                j += 1
        self._demand = self.samples[:, 0] * self.dc.vm_mhz
        energy_mark, migrations_mark = 0.0, 0
        while self._events:
            at, kind, _, a, b = heapq.heappop(self._events)
            if at > self.now:
                self.meter.account(
                    at - self.now, self._demand, self.vm_host, self.moving_to, self.power
                )
                self.now = at
            if kind == _WAKE_DONE:
                self._wake_done(a, b)
            elif kind == _MIGRATION_DONE:
                self._migration_done(a, b)
            elif kind == _ROUND:
                self._round()
            else:
                self._collect(a, steps)
                self.series_time.append(self.now)
                self.series_active.append(int((self.power == ACTIVE).sum()))
                self.series_power.append((self.meter.energy_ws - energy_mark) / STEP_S)
                self.series_migrations.append(self.tally.migrations - migrations_mark)
                energy_mark, migrations_mark = self.meter.energy_ws, self.tally.migrations
                if progress is not None:
                    progress(a, steps)

    # ------------------------------------------------------------ agents' work
    def _collect(self, step: int, steps: int) -> None:
        """The collectors record the interval; the local managers decide."""
        got = self.meter.collect(STEP_S)
        self.history[:, :-1] = self.history[:, 1:]
        self.history[:, -1] = got
        self.filled = min(self.filled + 1, self.history_length)
        growing = np.flatnonzero(self.local_len < self.history_length)
        self.local_len[growing] += 1
        self._touch(*growing.tolist())
        if step >= steps:
            return
        self._demand = self.samples[:, step] * self.dc.vm_mhz
        if self.manage:
            self._local_managers()

    def _host_view(
        self, h: int, on_host: IntArray, leaving: npt.NDArray[np.bool_]
    ) -> tuple[tuple[VmObservation, ...], bool]:
        """Host ``h``'s VMs as its agent observes them (cached until they change)."""
        cached = self._views.get(h)
        if cached is not None and h not in self._dirty:
            return cached
        vms: list[VmObservation] = []
        for v in on_host.tolist():
            length = int(self.local_len[v])
            if leaving[v] or length == 0:
                continue
            obs = self._vm_obs[v]
            if obs is None:
                obs = VmObservation(
                    self.dc.vm_ids[v],
                    float(self.dc.vm_ram[v]),
                    float(self.dc.vm_mhz[v]),
                    self.history[v, self.history_length - length :],
                )
                self._vm_obs[v] = obs
            vms.append(obs)
        view = (tuple(vms), bool(leaving[on_host].any()))
        self._views[h] = view
        self._dirty.discard(h)
        return view

    def _touch(self, *vms: int) -> None:
        """The observations of ``vms`` (and their hosts' views) must be rebuilt."""
        for v in vms:
            self._vm_obs[v] = None
            self._dirty.add(int(self.vm_host[v]))

    def _local_managers(self) -> None:
        order = np.argsort(self.vm_host, kind="stable")
        bounds = np.searchsorted(self.vm_host[order], np.arange(self.dc.hosts + 1))
        leaving = self.moving_to >= 0
        for h in np.flatnonzero(self.power == ACTIVE).tolist():
            vms, migrating = self._host_view(h, order[bounds[h] : bounds[h + 1]], leaving)
            obs = HostObservation(
                self.dc.host_ids[h], float(self.capacity[h]), vms, migrating=migrating
            )
            decision, state = self.local.decide(
                obs, self.detectors.get(h, {}), seed=int(self.decisions[h])
            )
            self.decisions[h] += 1
            self.detectors[h] = state
            reason = decision.request_reason
            if reason is not None:
                self._next_request += 1
                self.pending.append(
                    PendingRequest(
                        self._next_request, obs.host_id, reason, decision.vm_ids, self.now
                    )
                )

    # ------------------------------------------------------------ controller's work
    def observe(self) -> FleetObservation:
        """The fleet as the controller would observe it now."""
        dc = self.dc
        now = self.now
        hosts = tuple(
            FleetHost(
                host_id=dc.host_ids[h],
                cpu_mhz=float(self.capacity[h]),
                ram_mb=float(dc.host_ram[h]),
                power=HOST_POWER[code],
                last_heard_s=now if code == ACTIVE else None,
                maintenance=bool(self.maintenance[h]),
                power_model=dc.power_models[h],
            )
            for h, code in enumerate(self.power.tolist())
        )
        window = min(self.filled, self.rules.global_manager.demand_samples)
        names = dc.host_ids
        if self._placed_at != self._placement_version:
            self._placed_on = tuple(names[h] for h in self.vm_host.tolist())
            self._placed_at = self._placement_version
        vms = VmTable(
            vm_ids=dc.vm_ids,
            host_ids=self._placed_on,
            ram_mb=dc.vm_ram,
            capacity_mhz=dc.vm_mhz,
            cpu_mhz=self.history[:, self.history_length - window :],
        )
        migrations = tuple(
            MigrationInFlight(dc.vm_ids[v], names[self.vm_host[v]], names[self.moving_to[v]])
            for v in self._running.values()
        )
        return FleetObservation(
            now_s=now,
            hosts=hosts,
            vms=vms,
            requests=tuple(self.pending),
            open_plans=int(self.plan is not None),
            migrations=migrations,
        )

    def _round(self) -> None:
        self.decide_round()
        self._execute()

    def decide_round(self) -> RoundDecision:
        """Run a round: handled requests leave the queue, a new plan becomes the open one
        (carried out from the next executor pass on)."""
        observation = self.observe()
        decision = plan_round(observation, self.rules)
        if self.record:
            self.rounds.append(RoundRecord(self.now, observation, decision))
        handled = set()
        for verdict in decision.verdicts:
            if verdict.outcome.final:
                handled.add(verdict.request_id)
                counts = self.tally.outcomes
                counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
        if handled:
            self.pending = [r for r in self.pending if r.request_id not in handled]
        if not decision.solution.empty:
            self.plan = PlanRun(build_plan(decision.solution))
            self.tally.plans += 1
        return decision

    def _execute(self) -> None:
        """Start what the open plan allows, and close it once every action is finished."""
        plan = self.plan
        if plan is None:
            return
        started = True
        while started:
            started = False
            names = self.dc.host_ids
            slots = MigrationSlots(
                self.scenario.controller.migration_caps,
                (
                    (names[self.vm_host[v]], names[self.moving_to[v]])
                    for v in self._running.values()
                ),
            )
            for action in plan.ready():
                if action.kind is ActionKind.MIGRATE and not slots.can_start(
                    action.host_id, action.destination or ""
                ):
                    continue  # the caps hold it back for now
                started |= self._start(plan, action, slots)
        if plan.outcome is not None:
            self.plan = None

    def _start(self, plan: PlanRun, action: PlannedAction, slots: MigrationSlots) -> bool:
        """Start one action; True if it finished at once (others may now be ready)."""
        h = self._host_index[action.host_id]
        if action.kind is ActionKind.WAKE:
            if self.power[h] != ASLEEP:
                plan.finish(action.seq)
                return True
            self.power[h] = WAKING
            plan.move(action.seq, ActionState.ONGOING)
            self._push(self.now + float(self.dc.wake_latency_s[h]), _WAKE_DONE, h, action.seq)
            return False
        if action.kind is ActionKind.MIGRATE:
            assert action.vm_id is not None and action.destination is not None
            v = self._vm_index[action.vm_id]
            if not slots.take(action.host_id, action.destination):
                return False
            self.moving_to[v] = self._host_index[action.destination]
            self._running[action.seq] = v
            self._dirty.add(h)
            plan.move(action.seq, ActionState.ONGOING)
            duration = float(self.dc.vm_ram[v]) / self.scenario.datacenter.migration_bandwidth_mb_s
            self.tally.migration_time_s += duration
            self._push(self.now + duration, _MIGRATION_DONE, v, action.seq)
            return False
        blocker = sleep_blocker(
            action.host_id,
            self.observe(),
            spare_hosts=self.rules.global_manager.spare_hosts,
            heartbeat_timeout_s=self.rules.heartbeat_timeout_s,
        )
        if blocker is not None:
            plan.move(action.seq, ActionState.SKIPPED)
            return False
        self.power[h] = ASLEEP
        self.tally.shutdowns += 1
        plan.finish(action.seq)
        return False

    def _wake_done(self, h: int, seq: int) -> None:
        self.power[h] = ACTIVE
        if self.plan is not None:
            self.plan.move(seq, ActionState.SUCCEEDED)
        self._execute()

    def _migration_done(self, v: int, seq: int) -> None:
        self._touch(v)
        self.vm_host[v] = self.moving_to[v]
        self.moving_to[v] = -1
        self._placement_version += 1
        self.local_len[v] = 0
        self._touch(v)
        del self._running[seq]
        self.tally.migrations += 1
        if self.plan is not None:
            self.plan.move(seq, ActionState.SUCCEEDED)
        self._execute()
