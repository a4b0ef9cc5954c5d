"""One fleet, two shells: drive the controller and the native simulator through the same
script and read back each round's decision in shared terms.

Hosts are ``h1``…``h7`` (4 cores × 2000 MHz, 16 GiB); VMs are numbered (1 vCPU,
1 GiB) and named by :func:`~tests.helpers.controller.vm_uuid` on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fleetwise.core.lifecycle import HostPowerState, MigrationOutcome
from fleetwise.core.round import PendingRequest, RequestOutcome, RoundDecision
from fleetwise.sim.native.meter import HOST_POWER
from fleetwise.sim.native.run import NativeRun
from fleetwise.sim.native.scenario import Scenario
from fleetwise.store.inventory import set_host_power_state
from fleetwise.store.migration_log import finish_migration, start_migration
from fleetwise.traces.loader import TraceSet
from tests.helpers.controller import Harness, vm, vm_uuid

__all__ = ["HOST_NAMES", "ControllerShell", "NativeShell", "RoundSummary", "Shell", "summary"]

HOST_NAMES = ("h1", "h2", "h3", "h4", "h5", "h6", "h7")


@dataclass(frozen=True)
class RoundSummary:
    """A round's decision with every name in the script's terms."""

    migrations: tuple[tuple[str, str, str], ...]
    wake: tuple[str, ...]
    sleep: tuple[str, ...]
    verdicts: tuple[tuple[int, str, RequestOutcome], ...]
    drained: tuple[str, ...]
    excluded: tuple[str, ...]
    waiting: bool


def summary(decision: RoundDecision, host: dict[str, str]) -> RoundSummary:
    """``decision`` with host names mapped through ``host``."""
    return RoundSummary(
        migrations=tuple(
            sorted(
                (m.vm_id, host[m.source], host[m.destination]) for m in decision.solution.migrations
            )
        ),
        wake=tuple(host[h] for h in decision.solution.wake),
        sleep=tuple(sorted(host[h] for h in decision.solution.sleep)),
        verdicts=tuple(
            sorted((v.request_id, host[v.host_id], v.outcome) for v in decision.verdicts)
        ),
        drained=tuple(host[h] for h in decision.drained),
        excluded=tuple(sorted(host[h] for h in decision.excluded)),
        waiting=decision.waiting,
    )


class Shell(Protocol):
    """What a script may do to a fleet."""

    def samples(self, cpu: dict[int, float]) -> None: ...
    def request(self, host: str, reason: str, vms: tuple[int, ...] = ()) -> None: ...
    def advance(self, seconds: float) -> None: ...
    def waking(self, host: str) -> None: ...
    def woken(self, host: str) -> None: ...
    def maintenance(self, host: str, on: bool) -> None: ...
    def start_migration(self, vm_number: int, source: str, destination: str) -> None: ...
    def finish_migration(self, vm_number: int) -> None: ...
    def cancel_plan(self) -> None: ...
    def round(self) -> RoundSummary: ...


class ControllerShell:
    """The controller: a real store on virtual time, the API for what agents send."""

    def __init__(self, harness: Harness, placement: dict[int, str]) -> None:
        self.h = harness
        self.placement = dict(placement)
        self.migrations: dict[int, int] = {}
        self.plan_id: int | None = None
        for host in HOST_NAMES:
            self.h.register(host, [vm(n) for n, on in placement.items() if on == host])

    def _heartbeats(self) -> None:
        states = {v["name"]: v["power_state"] for v in self.h.ok("GET", "/v1/hosts")}
        for host in HOST_NAMES:
            if states[host] == "active":
                self.h.heartbeat(host)

    def samples(self, cpu: dict[int, float]) -> None:
        for host in HOST_NAMES:
            mine = {n: mhz for n, mhz in cpu.items() if self.placement[n] == host}
            self.h.samples(host, mine)

    def request(self, host: str, reason: str, vms: tuple[int, ...] = ()) -> None:
        response = self.h.reallocate(host, reason, vms)
        assert response.status_code == 202, response.text

    def advance(self, seconds: float) -> None:
        self.h.advance(seconds)
        self._heartbeats()

    def waking(self, host: str) -> None:
        self.h.put_to_sleep(host)
        self.h.context.store.run(
            set_host_power_state,
            host,
            HostPowerState.ASLEEP,
            HostPowerState.WAKING,
            now=self.h.now(),
            reason="script",
        )

    def woken(self, host: str) -> None:
        self.h.context.store.run(
            set_host_power_state,
            host,
            HostPowerState.WAKING,
            HostPowerState.ACTIVE,
            now=self.h.now(),
            reason="script",
        )
        self.h.heartbeat(host)

    def maintenance(self, host: str, on: bool) -> None:
        self.h.ok("POST", f"/v1/hosts/{host}/maintenance", json={"on": on})

    def start_migration(self, vm_number: int, source: str, destination: str) -> None:
        started = self.h.context.store.run(
            start_migration, vm_uuid(vm_number), source, destination, now=self.h.now()
        )
        self.migrations[vm_number] = started.id

    def finish_migration(self, vm_number: int) -> None:
        migration = self.migrations.pop(vm_number)
        view = self.h.context.store.run(
            finish_migration, migration, MigrationOutcome.SUCCEEDED, now=self.h.now()
        )
        self.placement[vm_number] = view.destination_host

    def cancel_plan(self) -> None:
        assert self.plan_id is not None
        self.h.ok("POST", f"/v1/plans/{self.plan_id}/cancel")
        self.plan_id = None

    def round(self) -> RoundSummary:
        plan = self.h.plan_round()
        if plan is not None:
            self.plan_id = plan.id
        decision = self.h.global_manager.last_decision
        assert decision is not None
        return summary(decision, {h: h for h in HOST_NAMES})


class NativeShell:
    """The native simulator's shell, its state set by the script instead of by physics."""

    def __init__(self, placement: dict[int, str], round_spacing_s: float) -> None:
        numbers = sorted(placement)
        traces = TraceSet(
            "script",
            tuple(vm_uuid(n) for n in numbers),
            np.zeros((len(numbers), 4), dtype=np.uint8),
        )
        scenario = Scenario.model_validate(
            {
                "name": "contract",
                "datacenter": {
                    "hosts": [
                        {
                            "name": "h",
                            "count": len(HOST_NAMES),
                            "cores": 4,
                            "core_mhz": 2000,
                            "ram_mb": 16384,
                            "power_model": {"name": "hp-ml110-g5"},
                        }
                    ],
                    "vms": {"types": [{"name": "vm", "mhz": 2000, "ram_mb": 1024}]},
                    "migration_bandwidth_mb_s": 100,
                },
                "controller": {"plan_round_spacing_s": round_spacing_s},
            }
        )
        self.run = NativeRun(traces, scenario, record=True)
        self.names = dict(zip(self.run.dc.host_ids, HOST_NAMES, strict=True))
        self.index = {name: i for i, name in enumerate(HOST_NAMES)}
        self.row = {n: k for k, n in enumerate(numbers)}
        for n, host in placement.items():
            self.run.vm_host[self.row[n]] = self.index[host]
        self.run.power[:] = HOST_POWER.index(HostPowerState.ACTIVE)
        self._fake_action = 10_000

    def _changed(self) -> None:
        self.run._placement_version += 1

    def samples(self, cpu: dict[int, float]) -> None:
        run = self.run
        run.history[:, :-1] = run.history[:, 1:]
        for n, mhz in cpu.items():
            run.history[self.row[n], -1] = mhz
        run.filled = min(run.filled + 1, run.history_length)

    def request(self, host: str, reason: str, vms: tuple[int, ...] = ()) -> None:
        run = self.run
        run._next_request += 1
        assert reason in ("underload", "overload")
        run.pending.append(
            PendingRequest(
                run._next_request,
                run.dc.host_ids[self.index[host]],
                "underload" if reason == "underload" else "overload",
                tuple(vm_uuid(n) for n in vms),
                run.now,
            )
        )

    def advance(self, seconds: float) -> None:
        self.run.now += seconds

    def waking(self, host: str) -> None:
        self.run.power[self.index[host]] = HOST_POWER.index(HostPowerState.WAKING)

    def woken(self, host: str) -> None:
        self.run.power[self.index[host]] = HOST_POWER.index(HostPowerState.ACTIVE)

    def maintenance(self, host: str, on: bool) -> None:
        self.run.maintenance[self.index[host]] = on

    def start_migration(self, vm_number: int, source: str, destination: str) -> None:
        v = self.row[vm_number]
        assert self.run.vm_host[v] == self.index[source]
        self.run.moving_to[v] = self.index[destination]
        self._fake_action += 1
        self.run._running[self._fake_action] = v

    def finish_migration(self, vm_number: int) -> None:
        v = self.row[vm_number]
        self.run.vm_host[v] = self.run.moving_to[v]
        self.run.moving_to[v] = -1
        self.run._running = {k: x for k, x in self.run._running.items() if x != v}
        self._changed()

    def cancel_plan(self) -> None:
        assert self.run.plan is not None
        self.run.plan = None

    def round(self) -> RoundSummary:
        return summary(self.run.decide_round(), self.names)
