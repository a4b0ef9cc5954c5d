"""Hypervisor driver backed by libvirt (QEMU/KVM hosts, or libvirt's ``test:///`` driver).

libvirt-python is imported when a connection is opened, so fleetwise works without it.
VM CPU time is the sum of the vCPU threads' times; the QEMU emulator threads count
as hypervisor overhead (host use minus VM use). Note that a migrated VM starts a
new QEMU process, so its counter restarts on the destination.
"""

from __future__ import annotations

import importlib
import math
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.drivers.hypervisor.base import (
    DEFAULT_MIGRATION_TIMEOUT_S,
    CpuTuning,
    HostCpuTimes,
    HostInfo,
    Hypervisor,
    MigrationProgress,
    MigrationResult,
    MigrationTarget,
    ProgressCallback,
    VmInfo,
    VmState,
)
from fleetwise.errors import DriverError, ParameterError
from fleetwise.ids import check_vm_uuid

__all__ = ["LibvirtHypervisor", "load_libvirt"]

_ABORT_GRACE_S = 30.0


def _discard_error(_ctx: object, _err: object) -> None:
    """libvirt error handler that keeps libvirt from printing to stderr."""


def load_libvirt() -> Any:
    """Import libvirt-python, or raise DriverError saying how to install it."""
    try:
        libvirt: Any = importlib.import_module("libvirt")
    except ImportError as exc:
        raise DriverError(
            "libvirt-python is not installed: install the 'libvirt' extra of fleetwise"
        ) from exc
    libvirt.registerErrorHandler(_discard_error, None)
    return libvirt


def _message(exc: BaseException) -> str:
    get = getattr(exc, "get_error_message", None)
    text = get() if callable(get) else None
    return str(text or exc)


@dataclass
class _MigrationCall:
    """What the migration worker thread reports back."""

    error: str | None = None


class LibvirtHypervisor:
    """A :class:`~fleetwise.drivers.hypervisor.base.Hypervisor` on one libvirt connection.

    ``core_mhz`` overrides the CPU frequency libvirt reports. Migrations use the flags
    LIVE, PERSIST_DEST and UNDEFINE_SOURCE, plus UNSAFE when ``allow_unsafe_migration``
    is set (needed when disks are not on shared storage). A destination without a URI
    is reached at ``destination_uri_template`` formatted with its host name.
    """

    def __init__(
        self,
        uri: str,
        *,
        read_only: bool = False,
        core_mhz: float | None = None,
        allow_unsafe_migration: bool = False,
        destination_uri_template: str = "qemu+ssh://{host}/system",
        poll_interval_s: float = 0.5,
    ) -> None:
        if core_mhz is not None and not (math.isfinite(core_mhz) and core_mhz > 0):
            raise ParameterError(f"core_mhz must be a positive number, got {core_mhz}")
        if not (math.isfinite(poll_interval_s) and poll_interval_s > 0):
            raise ParameterError(f"poll_interval_s must be positive, got {poll_interval_s}")
        if "{host}" not in destination_uri_template:
            raise ParameterError("destination_uri_template must contain {host}")
        self._lv = load_libvirt()
        self._uri = uri
        self._core_mhz = core_mhz
        self._allow_unsafe = allow_unsafe_migration
        self._destination_template = destination_uri_template
        self._poll_interval_s = poll_interval_s
        opener = self._lv.openReadOnly if read_only else self._lv.open
        with self._translated("connecting"):
            self._conn: Any = opener(uri)

    # -- plumbing ---------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The connection URI."""
        return self._uri

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._lv.libvirtError as exc:
            raise DriverError(f"{action} failed on {self._uri}: {_message(exc)}") from exc

    def _connection(self) -> Any:
        if self._conn is None:
            raise DriverError(f"connection to {self._uri} is closed")
        return self._conn

    def _error_code(self, exc: BaseException) -> int | None:
        get = getattr(exc, "get_error_code", None)
        return int(get()) if callable(get) else None

    def _lookup(self, uuid: str) -> Any | None:
        """The domain with this UUID, or None when the hypervisor does not know it."""
        uuid = check_vm_uuid(uuid)
        conn = self._connection()
        try:
            return conn.lookupByUUIDString(uuid)
        except self._lv.libvirtError as exc:
            if self._error_code(exc) == self._lv.VIR_ERR_NO_DOMAIN:
                return None
            raise DriverError(
                f"looking up VM {uuid} failed on {self._uri}: {_message(exc)}"
            ) from exc

    def _domain(self, uuid: str) -> Any:
        dom = self._lookup(uuid)
        if dom is None:
            raise DriverError(f"no VM {uuid} on {self._uri}")
        return dom

    def _migration_running(self, dom: Any) -> bool:
        lv = self._lv
        try:
            stats = dom.jobStats()
        except lv.libvirtError:
            return False  # no job support (test driver) or the domain just vanished
        if int(stats.get("type", lv.VIR_DOMAIN_JOB_NONE)) == lv.VIR_DOMAIN_JOB_NONE:
            return False
        return stats.get("operation") in (
            lv.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN,
            lv.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
        )

    def _state_of(self, dom: Any) -> VmState:
        lv = self._lv
        state, reason = dom.state()
        active = state in (lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_BLOCKED, lv.VIR_DOMAIN_PAUSED)
        if active and self._migration_running(dom):
            return VmState.MIGRATING
        if state == lv.VIR_DOMAIN_PAUSED:
            migrating = reason == lv.VIR_DOMAIN_PAUSED_MIGRATION
            return VmState.MIGRATING if migrating else VmState.PAUSED
        mapping = {
            lv.VIR_DOMAIN_RUNNING: VmState.RUNNING,
            lv.VIR_DOMAIN_BLOCKED: VmState.RUNNING,
            lv.VIR_DOMAIN_SHUTDOWN: VmState.STOPPING,
            lv.VIR_DOMAIN_SHUTOFF: VmState.SHUTOFF,
            lv.VIR_DOMAIN_CRASHED: VmState.CRASHED,
            lv.VIR_DOMAIN_PMSUSPENDED: VmState.SUSPENDED,
        }
        return mapping.get(state, VmState.UNKNOWN)

    # -- host ---------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        """Host facts; RAM comes from the node memory statistics when available."""
        conn = self._connection()
        with self._translated("reading host information"):
            info = conn.getInfo()
            hostname = str(conn.getHostname())
            capabilities = str(conn.getCapabilities())
        ram_mb = int(info[1])
        try:
            ram_mb = int(conn.getMemoryStats(self._lv.VIR_NODE_MEMORY_STATS_ALL_CELLS)["total"])
            ram_mb //= 1024
        except (self._lv.libvirtError, KeyError):
            pass  # getInfo's figure is all the test driver offers
        core_mhz = self._core_mhz if self._core_mhz is not None else float(info[3])
        if core_mhz <= 0:
            raise DriverError(f"{self._uri} reports no CPU frequency; configure core_mhz")
        host_uuid = ET.fromstring(capabilities).findtext("host/uuid")
        return HostInfo(
            hostname=hostname,
            cores=int(info[2]),
            core_mhz=core_mhz,
            ram_mb=ram_mb,
            uuid=host_uuid.strip() if host_uuid else None,
        )

    def host_cpu_times(self) -> HostCpuTimes:
        """Busy (user + kernel) and total (plus idle and iowait) time over all CPUs."""
        conn = self._connection()
        with self._translated("reading host CPU times"):
            stats = conn.getCPUStats(self._lv.VIR_NODE_CPU_STATS_ALL_CPUS, 0)
        busy = int(stats.get("user", 0)) + int(stats.get("kernel", 0))
        idle = int(stats.get("idle", 0)) + int(stats.get("iowait", 0))
        return HostCpuTimes(busy_ns=busy, total_ns=busy + idle)

    # -- VMs ----------------------------------------------------------------------------

    def list_vms(self) -> list[VmInfo]:
        """All domains, active or only defined; ones vanishing meanwhile are left out."""
        conn = self._connection()
        with self._translated("listing VMs"):
            domains = conn.listAllDomains(0)
        vms: list[VmInfo] = []
        for dom in domains:
            try:
                info = dom.info()
                vm = VmInfo(
                    uuid=str(dom.UUIDString()),
                    name=str(dom.name()),
                    state=self._state_of(dom),
                    vcpus=int(info[3]),
                    ram_mb=int(info[1]) // 1024,
                )
            except self._lv.libvirtError as exc:
                if self._error_code(exc) == self._lv.VIR_ERR_NO_DOMAIN:
                    continue
                raise DriverError(f"listing VMs failed on {self._uri}: {_message(exc)}") from exc
            vms.append(vm)
        return vms

    def has_vm(self, uuid: str) -> bool:
        """Whether the hypervisor knows the VM (in any state)."""
        return self._lookup(uuid) is not None

    def vm_cpu_time_ns(self, uuid: str) -> int:
        """Sum of the cumulative CPU times of all the VM's vCPUs."""
        dom = self._domain(uuid)
        with self._translated(f"reading CPU time of VM {uuid}"):
            if not dom.isActive():
                raise DriverError(f"VM {uuid} is not running on {self._uri}")
            per_vcpu, _pinning = dom.vcpus()
        return sum(int(vcpu[2]) for vcpu in per_vcpu)

    def set_cpu_tuning(
        self,
        uuid: str,
        *,
        shares: int | None = None,
        quota_us: int | None = None,
        period_us: int | None = None,
    ) -> None:
        """Set CFS shares and a whole-VM cap (libvirt's ``global_quota``/``global_period``)."""
        tuning = CpuTuning(shares=shares, quota_us=quota_us, period_us=period_us)
        params: dict[str, int] = {}
        if tuning.shares is not None:
            params["cpu_shares"] = tuning.shares
        if tuning.period_us is not None:
            params["global_period"] = tuning.period_us
        if tuning.quota_us is not None:
            params["global_quota"] = tuning.quota_us
        if not params:
            return
        dom = self._domain(uuid)
        with self._translated(f"tuning CPU of VM {uuid}"):
            try:
                dom.setSchedulerParameters(params)
            except LookupError as exc:  # raised by libvirt-python for unknown names
                raise DriverError(f"{self._uri} does not support CPU tuning: {exc}") from exc

    def cpu_tuning(self, uuid: str) -> CpuTuning:
        """The VM's current CFS shares and whole-VM cap."""
        dom = self._domain(uuid)
        with self._translated(f"reading CPU tuning of VM {uuid}"):
            params = dom.schedulerParameters()
        try:
            return CpuTuning(
                shares=params.get("cpu_shares"),
                quota_us=params.get("global_quota"),
                period_us=params.get("global_period"),
            )
        except ParameterError as exc:
            raise DriverError(f"{self._uri} reported odd CPU tuning for {uuid}: {exc}") from exc

    # -- migration ----------------------------------------------------------------------

    def migrate(
        self,
        uuid: str,
        destination: MigrationTarget,
        *,
        progress: ProgressCallback | None = None,
        timeout_s: float = DEFAULT_MIGRATION_TIMEOUT_S,
    ) -> MigrationResult:
        """Live-migrate a VM, polling the job for progress, aborting at the timeout.

        If ``progress`` raises, the migration is aborted and the exception propagates.
        """
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ParameterError(f"timeout_s must be positive, got {timeout_s}")
        dom = self._domain(uuid)
        started = time.monotonic()

        def result(outcome: MigrationOutcome, message: str = "") -> MigrationResult:
            return MigrationResult(
                uuid=uuid,
                destination=destination.host,
                outcome=outcome,
                duration_s=time.monotonic() - started,
                message=message,
            )

        dest_uri = destination.uri or self._destination_template.format(host=destination.host)
        try:
            dest_conn = self._lv.open(dest_uri)
        except self._lv.libvirtError as exc:
            return result(MigrationOutcome.FAILED, f"cannot reach {dest_uri}: {_message(exc)}")
        try:
            call, timed_out = self._run_migration(
                dom, dest_conn, destination, progress=progress, deadline=started + timeout_s
            )
        finally:
            with suppress(self._lv.libvirtError):
                dest_conn.close()
        if call is None:
            return result(
                MigrationOutcome.FAILED,
                f"migration did not stop within {_ABORT_GRACE_S:.0f} s of the abort; "
                "check where the VM runs",
            )
        if call.error is None:
            return result(MigrationOutcome.SUCCEEDED)
        if timed_out:
            return result(
                MigrationOutcome.TIMED_OUT, f"aborted after {timeout_s:g} s: {call.error}"
            )
        return result(MigrationOutcome.FAILED, call.error)

    def _migration_flags(self) -> int:
        lv = self._lv
        flags = lv.VIR_MIGRATE_LIVE | lv.VIR_MIGRATE_PERSIST_DEST | lv.VIR_MIGRATE_UNDEFINE_SOURCE
        if self._allow_unsafe:
            flags |= lv.VIR_MIGRATE_UNSAFE
        return int(flags)

    def _run_migration(
        self,
        dom: Any,
        dest_conn: Any,
        destination: MigrationTarget,
        *,
        progress: ProgressCallback | None,
        deadline: float,
    ) -> tuple[_MigrationCall | None, bool]:
        """Run the migration in a worker thread; returns (call, timed_out).

        ``call`` is None when the worker did not finish within the grace period
        after an abort.
        """
        params: dict[str, str] = {}
        if destination.migration_uri:
            params[self._lv.VIR_MIGRATE_PARAM_URI] = destination.migration_uri
        call = _MigrationCall()
        flags = self._migration_flags()
        uuid = str(dom.UUIDString())

        def work() -> None:
            try:
                dom.migrate3(dest_conn, params, flags)
            except self._lv.libvirtError as exc:
                call.error = _message(exc)

        worker = threading.Thread(target=work, name=f"migrate-{uuid}", daemon=True)
        started = time.monotonic()
        worker.start()
        timed_out = False
        abort_deadline: float | None = None
        while True:
            worker.join(self._poll_interval_s)
            if not worker.is_alive():
                return call, timed_out
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                abort_deadline = abort_deadline or now + _ABORT_GRACE_S
                if now >= abort_deadline:
                    return None, timed_out
                self._abort_job(dom)  # repeated: the job may not have started yet
                continue
            if progress is not None:
                try:
                    progress(self._progress(dom, uuid, now - started))
                except BaseException:
                    self._abort_job(dom)
                    worker.join(_ABORT_GRACE_S)
                    raise

    def _progress(self, dom: Any, uuid: str, elapsed_s: float) -> MigrationProgress:
        try:
            stats = dom.jobStats()
        except self._lv.libvirtError:
            stats = {}
        return MigrationProgress(
            uuid=uuid,
            elapsed_s=elapsed_s,
            data_total_bytes=int(stats.get("data_total", 0)),
            data_processed_bytes=int(stats.get("data_processed", 0)),
            data_remaining_bytes=int(stats.get("data_remaining", 0)),
        )

    def _abort_job(self, dom: Any) -> bool:
        try:
            dom.abortJob()
        except self._lv.libvirtError:
            return False
        return True

    def abort_migration(self, uuid: str) -> bool:
        """Abort the VM's migration job; False when no migration was running."""
        dom = self._domain(uuid)
        if not self._migration_running(dom):
            return False
        return self._abort_job(dom)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(self._lv.libvirtError):
                conn.close()

    def __enter__(self) -> LibvirtHypervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


if TYPE_CHECKING:
    _implements_protocol: type[Hypervisor] = LibvirtHypervisor
