"""Samples: batch ingestion, duplicates, latest-N queries and retention."""

from __future__ import annotations

import math
import time

import pytest
from sqlalchemy import Engine, func, select

from fleetwise.errors import ParameterError
from fleetwise.store import NotFoundError, Store
from fleetwise.store.inventory import register_host, report_vms
from fleetwise.store.models import HostSampleRow, VmSampleRow
from fleetwise.store.records import HostSampleIn, VmSampleIn
from fleetwise.store.samples import (
    add_host_samples,
    add_vm_samples,
    delete_samples_before,
    last_host_samples,
    last_vm_samples,
)
from tests.helpers.store import T0, at, host_spec, vm_report, vm_uuid

STEP = 300


@pytest.fixture
def fleet(store: Store) -> Store:
    for name in ("h0", "h1"):
        store.run(register_host, host_spec(name), now=T0)
    store.run(report_vms, "h0", [vm_report(n) for n in range(1, 21)], T0)
    return store


def _count(engine: Engine, model: type[VmSampleRow] | type[HostSampleRow]) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_batch_of_10k_samples_is_stored(fleet: Store, engine: Engine) -> None:
    batch = [VmSampleIn(vm_uuid(1 + i % 20), at(STEP * (i // 20)), float(i)) for i in range(10_000)]
    started = time.perf_counter()
    fleet.run(add_vm_samples, batch)
    elapsed = time.perf_counter() - started
    assert _count(engine, VmSampleRow) == 10_000
    assert elapsed < 10, f"10k samples took {elapsed:.1f} s"
    last = fleet.read(last_vm_samples, 1, [vm_uuid(20)])[vm_uuid(20)]
    assert [(s.ts, s.cpu_mhz) for s in last] == [(at(STEP * 499), 9999.0)]


def test_resent_samples_are_stored_once(fleet: Store, engine: Engine) -> None:
    batch = [VmSampleIn(vm_uuid(1), at(STEP * i), 100.0 + i) for i in range(5)]
    fleet.run(add_vm_samples, batch)
    fleet.run(add_vm_samples, [*batch[2:], VmSampleIn(vm_uuid(1), at(STEP * 5), 1.0)])
    assert _count(engine, VmSampleRow) == 6


def test_unknown_vm_rejects_the_whole_batch(fleet: Store, engine: Engine) -> None:
    batch = [VmSampleIn(vm_uuid(1), at(0), 1.0), VmSampleIn(vm_uuid(999), at(0), 1.0)]
    with pytest.raises(NotFoundError, match=vm_uuid(999)):
        fleet.run(add_vm_samples, batch)
    assert _count(engine, VmSampleRow) == 0


@pytest.mark.parametrize("mhz", [-1.0, math.nan, math.inf])
def test_invalid_sample_values_are_rejected(mhz: float) -> None:
    with pytest.raises(ParameterError):
        VmSampleIn(vm_uuid(1), at(0), mhz)


def test_last_n_vm_samples_are_the_newest_oldest_first(fleet: Store) -> None:
    # Inserted out of order: the query must order by time, not by insertion.
    times = [4, 0, 3, 1, 2]
    fleet.run(add_vm_samples, [VmSampleIn(vm_uuid(1), at(STEP * t), float(t)) for t in times])
    fleet.run(add_vm_samples, [VmSampleIn(vm_uuid(2), at(0), 7.0)])
    result = fleet.read(last_vm_samples, 3, [vm_uuid(1), vm_uuid(2), vm_uuid(3)])
    assert [s.cpu_mhz for s in result[vm_uuid(1)]] == [2.0, 3.0, 4.0]
    assert [s.cpu_mhz for s in result[vm_uuid(2)]] == [7.0]
    assert result[vm_uuid(3)] == ()
    assert set(fleet.read(last_vm_samples, 2)) == {vm_uuid(1), vm_uuid(2)}
    with pytest.raises(ParameterError):
        fleet.read(last_vm_samples, 0)


def test_last_n_host_samples(fleet: Store) -> None:
    fleet.run(
        add_host_samples,
        [HostSampleIn("h0", at(STEP * t), 1000.0 + t, 100.0 + t) for t in range(6)],
    )
    result = fleet.read(last_host_samples, 2, ["h0", "h1"])
    assert [(s.host_cpu_mhz, s.hypervisor_mhz) for s in result["h0"]] == [
        (1004.0, 104.0),
        (1005.0, 105.0),
    ]
    assert result["h1"] == ()
    with pytest.raises(NotFoundError):
        fleet.run(add_host_samples, [HostSampleIn("h9", at(0), 1.0, 1.0)])


def test_retention_deletes_old_samples_and_counts_them(fleet: Store, engine: Engine) -> None:
    fleet.run(add_vm_samples, [VmSampleIn(vm_uuid(1), at(STEP * t), 1.0) for t in range(10)])
    fleet.run(add_host_samples, [HostSampleIn("h0", at(STEP * t), 1.0, 1.0) for t in range(10)])
    deleted = fleet.run(delete_samples_before, at(STEP * 6))
    assert deleted == 12
    assert _count(engine, VmSampleRow) == 4 and _count(engine, HostSampleRow) == 4
    remaining = fleet.read(last_vm_samples, 10, [vm_uuid(1)])[vm_uuid(1)]
    assert [s.ts for s in remaining] == [at(STEP * t) for t in range(6, 10)]


def test_retention_can_keep_the_newest_samples_of_quiet_vms(fleet: Store) -> None:
    # VM 1 reports all along; VM 2 stopped long ago but keeps its last 3 samples.
    fleet.run(add_vm_samples, [VmSampleIn(vm_uuid(1), at(STEP * t), 1.0) for t in range(20)])
    fleet.run(add_vm_samples, [VmSampleIn(vm_uuid(2), at(STEP * t), 2.0) for t in range(5)])
    deleted = fleet.run(delete_samples_before, at(STEP * 15), keep_last=3)
    assert deleted == 15 + 2
    result = fleet.read(last_vm_samples, 100, [vm_uuid(1), vm_uuid(2)])
    assert [s.ts for s in result[vm_uuid(1)]] == [at(STEP * t) for t in range(15, 20)]
    assert [s.ts for s in result[vm_uuid(2)]] == [at(STEP * t) for t in range(2, 5)]
