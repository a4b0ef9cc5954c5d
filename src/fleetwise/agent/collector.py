"""The collector: read the hypervisor's counters, turn them into MHz, keep the history.

One :meth:`Collector.collect` per interval. The first call (and the first after a
restart) only takes a baseline; every later call yields the interval's
:class:`~fleetwise.api.schemas.SampleBatch` and appends to the persisted history. The
host overload state (VM plus hypervisor MHz above ``threshold × usable × capacity``)
is logged when it changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fleetwise.agent.history import UsageHistory
from fleetwise.agent.meter import IntervalUse, Readings, interval_use
from fleetwise.agent.persist import JsonFile
from fleetwise.api.schemas import SampleBatch, VmSample
from fleetwise.drivers.hypervisor.base import HostInfo, Hypervisor, VmInfo, VmState
from fleetwise.errors import DriverError
from fleetwise.service.clock import WallClock

__all__ = ["MEASURED_STATES", "Collection", "Collector"]

logger = logging.getLogger(__name__)

MEASURED_STATES = frozenset({VmState.RUNNING, VmState.MIGRATING, VmState.PAUSED})
"""VM states whose CPU-time counter exists (the VM has a live process)."""


@dataclass(frozen=True)
class Collection:
    """What one collection saw; ``use`` and ``batch`` are None for a baseline."""

    taken_at: datetime
    host: HostInfo
    vms: tuple[VmInfo, ...]
    use: IntervalUse | None
    batch: SampleBatch | None


class Collector:
    """Measures one host through its hypervisor driver."""

    def __init__(
        self,
        hypervisor: Hypervisor,
        clock: WallClock,
        history_file: JsonFile[UsageHistory],
        *,
        history_length: int,
        usable_fraction: float,
        overload_threshold: float,
    ) -> None:
        self._hypervisor = hypervisor
        self._clock = clock
        self._file = history_file
        self._usable = usable_fraction
        self._threshold = overload_threshold
        self.history = history_file.load(UsageHistory(length=history_length))
        if self.history.length != history_length:
            self.history = self.history.resized(history_length)
        self._last: Readings | None = None

    def _read(self) -> tuple[HostInfo, list[VmInfo], Readings]:
        host = self._hypervisor.host_info()
        vms = self._hypervisor.list_vms()
        counters: dict[str, int] = {}
        for vm in vms:
            if vm.state not in MEASURED_STATES:
                continue
            try:
                counters[vm.uuid] = self._hypervisor.vm_cpu_time_ns(vm.uuid)
            except DriverError:
                logger.debug("VM %s vanished while being measured", vm.uuid)
        host_times = self._hypervisor.host_cpu_times()
        return host, vms, Readings(self._clock.now(), counters, host_times)

    def collect(self) -> Collection:
        """Take one reading; measure the interval since the previous one."""
        host, vms, readings = self._read()
        taken_at = datetime.fromtimestamp(self._clock.wall(), UTC)
        use = interval_use(
            self._last,
            readings,
            {vm.uuid: vm.vcpus for vm in vms},
            cores=host.cores,
            core_mhz=host.core_mhz,
        )
        self._last = readings
        if use is None:
            return Collection(taken_at, host, tuple(vms), None, None)
        overloaded = self._log_overload(use, host)
        self.history.record(use, readings.vm_cpu_ns.keys())
        self._file.save(self.history)
        batch = SampleBatch(
            taken_at=taken_at,
            host_cpu_mhz=use.host_mhz,
            hypervisor_mhz=use.hypervisor_mhz,
            vms=[VmSample(uuid=uuid, cpu_mhz=mhz) for uuid, mhz in sorted(use.vm_mhz.items())],
            overloaded=overloaded,
        )
        return Collection(taken_at, host, tuple(vms), use, batch)

    def _log_overload(self, use: IntervalUse, host: HostInfo) -> bool:
        limit = self._threshold * self._usable * host.total_mhz
        overloaded = use.vms_mhz + use.hypervisor_mhz > limit
        if overloaded != self.history.overloaded:
            level = logging.WARNING if overloaded else logging.INFO
            logger.log(
                level,
                "host %s: %.0f MHz used, limit %.0f MHz",
                "overloaded" if overloaded else "not overloaded",
                use.vms_mhz + use.hypervisor_mhz,
                limit,
            )
            self.history.overloaded = overloaded
        return overloaded
