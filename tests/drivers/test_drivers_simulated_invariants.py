"""Whatever happens to migrations, a simulated VM is on exactly one host."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.clock import ManualClock
from fleetwise.drivers.hypervisor.cpu_trace import CpuTrace
from fleetwise.drivers.hypervisor.simulated import SimulatedFleet, SimulatedHost, SimulatedVm
from fleetwise.errors import DriverError

HOSTS = ["h0", "h1", "h2"]
VMS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]


class FleetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.fleet = SimulatedFleet(self.clock, bandwidth_mb_s=50.0)
        for name in HOSTS:
            self.fleet.add_host(SimulatedHost(name, cores=4, core_mhz=2000.0, ram_mb=2048))
        self.views = {name: self.fleet.hypervisor(name) for name in HOSTS}
        for i, uuid in enumerate(VMS):
            spec = SimulatedVm(uuid, f"vm{i}", 1, 256 * (i + 1), CpuTrace.of([0.3, 0.9]))
            self.fleet.add_vm(HOSTS[i % len(HOSTS)], spec)

    @rule(vm=st.sampled_from(VMS), dest=st.sampled_from(HOSTS))
    def start_migration(self, vm: str, dest: str) -> None:
        # Refused (already migrating, same host, no room) means nothing changed.
        with contextlib.suppress(DriverError):
            self.fleet.start_migration(vm, dest)

    @rule(vm=st.sampled_from(VMS), count=st.integers(0, 2), at=st.floats(0.0, 0.99))
    def inject_failures(self, vm: str, count: int, at: float) -> None:
        self.fleet.fail_next_migrations(vm, count, at_fraction=at)

    @rule(vm=st.sampled_from(VMS))
    def abort(self, vm: str) -> None:
        self.fleet.abort_migration(vm)

    @rule(seconds=st.floats(0.0, 20.0))
    def let_time_pass(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def every_vm_is_on_exactly_one_host(self) -> None:
        listed: dict[str, list[str]] = {uuid: [] for uuid in VMS}
        for name, view in self.views.items():
            for info in view.list_vms():
                listed[info.uuid].append(name)
        for uuid in VMS:
            assert listed[uuid] == [self.fleet.locate(uuid)]
            assert sum(view.has_vm(uuid) for view in self.views.values()) == 1

    @invariant()
    def a_vm_moves_only_by_a_completed_migration(self) -> None:
        completed = [
            r for r in self.fleet.migration_history() if r.outcome is MigrationOutcome.SUCCEEDED
        ]
        for uuid in VMS:
            moves = [r for r in completed if r.uuid == uuid]
            here = self.fleet.locate(uuid)
            expected = moves[-1].destination if moves else self.initial_host(uuid)
            assert here == expected
            for before, after in itertools.pairwise(moves):
                assert after.source == before.destination

    def initial_host(self, uuid: str) -> str:
        return HOSTS[VMS.index(uuid) % len(HOSTS)]

    @invariant()
    def ram_is_never_overcommitted(self) -> None:
        for name, view in self.views.items():
            assert sum(v.ram_mb for v in view.list_vms()) <= 2048, name


FleetMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestFleetInvariants = FleetMachine.TestCase
