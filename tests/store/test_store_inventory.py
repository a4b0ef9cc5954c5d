"""Hosts and VMs: registration, agent reports, moves, power state, maintenance, overload log."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from fleetwise.core.lifecycle import HostPowerState, IllegalTransition, MigrationOutcome, VmState
from fleetwise.errors import ParameterError
from fleetwise.store import ConflictError, NotFoundError, Store
from fleetwise.store.inventory import (
    agent_credential_hash,
    get_host,
    list_hosts,
    list_vms,
    overload_history,
    power_history,
    record_heartbeat,
    record_overload_state,
    register_host,
    report_vms,
    set_agent_credential_hash,
    set_host_power_state,
    set_maintenance,
)
from fleetwise.store.migration_log import finish_migration, start_migration
from fleetwise.store.models import VmRow
from fleetwise.store.records import HostSpec, ReportedVm
from tests.helpers.store import at, host_spec, vm_report, vm_uuid, wipe

HOSTS = ("h0", "h1", "h2")


def _where(store: Store) -> dict[str, str | None]:
    return {vm.uuid: vm.host for vm in store.read(list_vms)}


@pytest.fixture
def fleet(store: Store) -> Store:
    for name in HOSTS:
        store.run(register_host, host_spec(name), now=at(0))
    return store


# --- hosts -------------------------------------------------------------------------------


def test_register_updates_inventory_but_keeps_power_and_maintenance(store: Store) -> None:
    store.run(register_host, host_spec("h1", cores=4), now=at(0))
    store.run(
        set_host_power_state,
        "h1",
        HostPowerState.ACTIVE,
        HostPowerState.GOING_TO_SLEEP,
        now=at(1),
        reason="empty",
    )
    store.run(set_maintenance, "h1", True, now=at(2))
    again = store.run(register_host, host_spec("h1", cores=16), now=at(3))
    assert (again.cpu_cores, again.cpu_mhz) == (16, 16 * 2400)
    assert again.power_state is HostPowerState.GOING_TO_SLEEP
    assert again.maintenance is True
    assert again.registered_at == at(0) and again.updated_at == at(3)
    assert [h.name for h in store.read(list_hosts)] == ["h1"]


def test_registration_stores_and_replaces_the_hosts_uris(store: Store) -> None:
    spec = host_spec("h1")
    with_uris = dataclasses.replace(
        spec, hypervisor_uri="qemu+tcp://h1/system", migration_uri="tcp://10.0.0.1"
    )
    view = store.run(register_host, with_uris, now=at(0))
    assert (view.hypervisor_uri, view.migration_uri) == ("qemu+tcp://h1/system", "tcp://10.0.0.1")
    moved = dataclasses.replace(spec, hypervisor_uri="qemu+ssh://h1/system")
    store.run(register_host, moved, now=at(1))
    again = store.read(get_host, "h1")
    assert (again.hypervisor_uri, again.migration_uri) == ("qemu+ssh://h1/system", None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hypervisor_uri": ""},
        {"migration_uri": "x" * 513},
        {"cpu_mhz": 30000},  # more than 8 × 2400
        {"cpu_cores": 0},
        {"mac": "00:11:22:33:44"},
        {"name": " padded"},
        {"name": ""},
    ],
)
def test_host_spec_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "h1",
        "cpu_cores": 8,
        "core_mhz": 2400,
        "cpu_mhz": 19200,
        "ram_mb": 1024,
    }
    fields.update(kwargs)
    with pytest.raises(ParameterError):
        HostSpec(**fields)  # type: ignore[arg-type]


def test_unknown_host_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="unknown host: nowhere"):
        store.read(get_host, "nowhere")


def test_credential_hash_is_stored_but_never_in_views(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    assert store.read(agent_credential_hash, "h1") is None
    store.run(set_agent_credential_hash, "h1", "scrypt$abc")
    assert store.read(agent_credential_hash, "h1") == "scrypt$abc"
    assert "scrypt$abc" not in repr(store.read(get_host, "h1"))


def test_heartbeat_only_moves_forward(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    store.run(record_heartbeat, "h1", now=at(10))
    store.run(record_heartbeat, "h1", now=at(5))
    assert store.read(get_host, "h1").last_heartbeat == at(10)


# --- power state and maintenance --------------------------------------------------------------


def test_power_cycle_is_logged(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    steps = [
        (HostPowerState.ACTIVE, HostPowerState.GOING_TO_SLEEP, "emptied"),
        (HostPowerState.GOING_TO_SLEEP, HostPowerState.ASLEEP, "suspended"),
        (HostPowerState.ASLEEP, HostPowerState.WAKING, "capacity needed"),
        (HostPowerState.WAKING, HostPowerState.ACTIVE, "heartbeat"),
    ]
    for i, (src, dst, why) in enumerate(steps, start=1):
        view = store.run(set_host_power_state, "h1", src, dst, now=at(i), reason=why)
        assert view.power_state is dst
    log = store.read(power_history, "h1")
    assert [(e.from_state, e.to_state, e.reason, e.ts) for e in log] == [
        (src, dst, why, at(i)) for i, (src, dst, why) in enumerate(steps, start=1)
    ]


def test_illegal_or_stale_power_changes_change_nothing(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    with pytest.raises(IllegalTransition):
        store.run(
            set_host_power_state,
            "h1",
            HostPowerState.ACTIVE,
            HostPowerState.ASLEEP,
            now=at(1),
            reason="skip a step",
        )
    with pytest.raises(ConflictError, match="h1 is active, not waking"):
        store.run(
            set_host_power_state,
            "h1",
            HostPowerState.WAKING,
            HostPowerState.ACTIVE,
            now=at(1),
            reason="stale view",
        )
    host = store.read(get_host, "h1")
    assert host.power_state is HostPowerState.ACTIVE and host.updated_at == at(0)
    assert store.read(power_history) == ()


def test_maintenance_flag(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    assert store.run(set_maintenance, "h1", True, now=at(1)).maintenance is True
    assert store.run(set_maintenance, "h1", False, now=at(2)).maintenance is False
    assert store.read(get_host, "h1").power_state is HostPowerState.ACTIVE


def test_overload_is_logged_only_on_change(store: Store) -> None:
    store.run(register_host, host_spec("h1"), now=at(0))
    written = [
        store.run(record_overload_state, "h1", at(t), overloaded)
        for t, overloaded in [(0, False), (1, False), (2, True), (3, True), (4, False)]
    ]
    assert written == [True, False, True, False, True]
    assert not store.run(record_overload_state, "h1", at(3.5), True)  # older than the last row
    log = store.read(overload_history, "h1")
    assert [(e.ts, e.overloaded) for e in log] == [(at(0), False), (at(2), True), (at(4), False)]


# --- VM reports ---------------------------------------------------------------------------


def test_report_creates_moves_and_releases(fleet: Store) -> None:
    first = fleet.run(report_vms, "h0", [vm_report(1), vm_report(2)], at(10))
    assert first.created == (vm_uuid(1), vm_uuid(2))
    moved = fleet.run(report_vms, "h1", [vm_report(2)], at(20), complete=False)
    assert moved.moved == (vm_uuid(2),)
    released = fleet.run(report_vms, "h0", [], at(30))
    assert released.released == (vm_uuid(1),)
    assert _where(fleet) == {vm_uuid(1): None, vm_uuid(2): "h1"}
    (gone,) = [v for v in fleet.read(list_vms) if v.uuid == vm_uuid(1)]
    assert gone.state is VmState.MISSING
    assert [v.uuid for v in fleet.read(list_vms, "h1")] == [vm_uuid(2)]


def test_older_report_never_moves_a_vm_back(fleet: Store) -> None:
    fleet.run(report_vms, "h0", [vm_report(1)], at(10))
    fleet.run(report_vms, "h1", [vm_report(1)], at(20))
    late = fleet.run(report_vms, "h0", [vm_report(1, ram_mb=4096)], at(15))
    assert late.ignored == (vm_uuid(1),)
    (vm,) = fleet.read(list_vms)
    assert (vm.host, vm.ram_mb, vm.reported_at) == ("h1", 1024, at(20))


def test_incoming_copy_does_not_take_a_running_vm(fleet: Store) -> None:
    fleet.run(report_vms, "h0", [vm_report(1)], at(10))
    outcome = fleet.run(report_vms, "h1", [vm_report(1, VmState.MIGRATING)], at(20))
    assert outcome.ignored == (vm_uuid(1),)
    assert _where(fleet) == {vm_uuid(1): "h0"}


def test_partial_report_releases_nothing(fleet: Store) -> None:
    fleet.run(report_vms, "h0", [vm_report(1), vm_report(2)], at(10))
    fleet.run(report_vms, "h0", [vm_report(1)], at(20), complete=False)
    assert _where(fleet) == {vm_uuid(1): "h0", vm_uuid(2): "h0"}


def test_bad_report_changes_nothing(fleet: Store) -> None:
    with pytest.raises(ParameterError, match="same VM twice"):
        fleet.run(report_vms, "h0", [vm_report(1), vm_report(1)], at(10))
    with pytest.raises(NotFoundError):
        fleet.run(report_vms, "nowhere", [vm_report(2)], at(10))
    with pytest.raises(ParameterError, match="not a VM UUID"):
        ReportedVm("not-a-uuid", VmState.RUNNING, 1024, 1, 2400)
    assert fleet.read(list_vms) == ()


def test_concurrent_reports_leave_each_vm_on_the_newest_reporter(
    fleet: Store, engine: Engine
) -> None:
    # Two agents race to report the same new VMs; every write must serialise cleanly.
    rounds = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def agent(host: str, parity: int) -> None:
        try:
            barrier.wait()
            for i in range(rounds):
                t = 2 * i + parity
                fleet.run(report_vms, host, [vm_report(n) for n in (1, 2, 3)], at(t))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(h, p)) for h, p in (("h0", 0), ("h1", 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _where(fleet) == {vm_uuid(n): "h1" for n in (1, 2, 3)}  # h1 reported last (odd t)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(VmRow)).scalar_one() == 3


# --- property: a VM is on at most one host and is never lost ------------------------------


@dataclass
class _Known:
    host: str | None
    located_at: float | None
    reported_at: float


@dataclass(frozen=True)
class _Report:
    host: str
    vms: dict[int, VmState]
    t: int
    complete: bool


@dataclass(frozen=True)
class _Migrate:
    vm: int
    destination: str
    t: int
    succeeded: bool


_ops = st.one_of(
    st.builds(
        _Report,
        st.sampled_from(HOSTS),
        st.dictionaries(
            st.integers(1, 5), st.sampled_from([VmState.RUNNING, VmState.MIGRATING]), max_size=5
        ),
        st.integers(0, 30),
        st.booleans(),
    ),
    st.builds(
        _Migrate, st.integers(1, 5), st.sampled_from(HOSTS), st.integers(0, 30), st.booleans()
    ),
)


def _newest(k: _Known) -> float:
    return k.reported_at if k.located_at is None else max(k.reported_at, k.located_at)


def _model_report(model: dict[int, _Known], op: _Report) -> None:
    for n, state in op.vms.items():
        k = model.get(n)
        if k is None:
            model[n] = _Known(op.host, op.t, op.t)
        elif op.t < _newest(k) or (k.host not in (None, op.host) and state is VmState.MIGRATING):
            continue
        else:
            if k.host != op.host:
                k.host, k.located_at = op.host, op.t
            k.reported_at = op.t
    if op.complete:
        for n, k in model.items():
            if k.host == op.host and n not in op.vms and op.t >= _newest(k):
                k.host, k.located_at, k.reported_at = None, op.t, op.t


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(_ops, min_size=1, max_size=10))
def test_vm_location_follows_the_newest_observation(
    store: Store, engine: Engine, ops: list[_Report | _Migrate]
) -> None:
    wipe(engine)
    for name in HOSTS:
        store.run(register_host, host_spec(name), now=at(0))
    model: dict[int, _Known] = {}
    ever_seen: set[int] = set()
    for op in ops:
        if isinstance(op, _Report):
            reports = [vm_report(n, state) for n, state in sorted(op.vms.items())]
            store.run(report_vms, op.host, reports, at(op.t), complete=op.complete)
            _model_report(model, op)
            ever_seen.update(op.vms)
        else:
            k = model.get(op.vm)
            if k is None or k.host is None or k.host == op.destination:
                continue
            started = store.run(
                start_migration, vm_uuid(op.vm), k.host, op.destination, now=at(op.t)
            )
            store.run(
                finish_migration,
                started.id,
                MigrationOutcome.SUCCEEDED if op.succeeded else MigrationOutcome.FAILED,
                now=at(op.t + 1),
            )
            if op.succeeded and _newest(k) <= op.t + 1:
                k.host, k.located_at = op.destination, op.t + 1
        # Invariants: nothing lost, nothing on two hosts, and the newest observation wins.
        where = _where(store)
        assert set(where) == {vm_uuid(n) for n in ever_seen}
        per_host = [vm.uuid for h in HOSTS for vm in store.read(list_vms, h)]
        assert len(per_host) == len(set(per_host))
        assert where == {vm_uuid(n): k.host for n, k in model.items()}
