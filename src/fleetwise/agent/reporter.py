"""Everything the agent tells the controller: registration, VM lists, samples, requests.

Nothing here blocks on a controller that is down: :meth:`Reporter.deliver` makes the
attempts the shared back-off allows and keeps the rest for the next pass.

* Registration (``PUT /v1/agents/{host}``) comes first; a 404 later means the controller
  forgot the host, and it registers again.
* A changed VM list is reported (as a heartbeat) before the samples that name new VMs.
* Sample batches wait in a bounded, persisted outbox (oldest dropped when full) and are
  sent oldest first; the controller stores a batch sent twice only once.
* A reallocation request is sent at most once per interval: a 412 (too old) or any
  other refusal ends it; network errors are retried with back-off until the interval
  ends. Each attempt carries a fresh ``sent_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fleetwise.agent.backoff import Backoff
from fleetwise.agent.client import (
    ControllerClient,
    ControllerRefusedError,
    ControllerUnavailableError,
    StaleRequestError,
)
from fleetwise.agent.link import BackingOffError, ControllerLink
from fleetwise.agent.persist import JsonFile
from fleetwise.api.schemas import (
    Heartbeat,
    HostRegistration,
    SampleBatch,
    VmReport,
    reallocation_body,
)
from fleetwise.drivers.hypervisor.base import VmInfo, VmState
from fleetwise.service.clock import WallClock

__all__ = ["Outbox", "PendingRequest", "Reporter", "vm_report"]

logger = logging.getLogger(__name__)

_REPORTED_STATE: dict[VmState, Literal["running", "paused", "migrating", "shutoff", "other"]] = {
    VmState.RUNNING: "running",
    VmState.PAUSED: "paused",
    VmState.SUSPENDED: "paused",
    VmState.MIGRATING: "migrating",
    VmState.SHUTOFF: "shutoff",
}


def vm_report(vm: VmInfo) -> VmReport:
    """A VM as the API describes it."""
    return VmReport(
        uuid=vm.uuid,
        name=vm.name[:255],
        vcpus=max(1, vm.vcpus),
        ram_mb=max(1, vm.ram_mb),
        state=_REPORTED_STATE.get(vm.state, "other"),
    )


class Outbox(BaseModel):
    """Sample batches not yet accepted by the controller, oldest first."""

    model_config = ConfigDict(extra="forbid")

    batches: list[SampleBatch] = Field(default_factory=list)


@dataclass(frozen=True)
class PendingRequest:
    """A reallocation request waiting to be sent until ``deadline`` (clock time)."""

    reason: Literal["underload", "overload"]
    vm_uuids: tuple[str, ...]
    deadline: float


class Reporter:
    """Reports of one host to the controller."""

    def __init__(
        self,
        host: str,
        link: ControllerLink,
        clock: WallClock,
        describe: Callable[[], HostRegistration],
        outbox_file: JsonFile[Outbox],
        *,
        outbox_limit: int,
        refusal_backoff: Backoff,
    ) -> None:
        self._host = host
        self._link = link
        self._clock = clock
        self._describe = describe
        self._outbox_file = outbox_file
        self._outbox_limit = outbox_limit
        self._refusals = refusal_backoff
        self.outbox = outbox_file.load(Outbox())
        self.registered = False
        self._vm_list: list[VmReport] | None = None
        self.pending: PendingRequest | None = None

    # -- what to send ----------------------------------------------------------------------

    def enqueue(self, batch: SampleBatch) -> None:
        """Queue a sample batch (dropping the oldest one when the outbox is full)."""
        batches = self.outbox.batches
        batches.append(batch)
        if len(batches) > self._outbox_limit:
            dropped = len(batches) - self._outbox_limit
            del batches[:dropped]
            logger.warning("sample outbox full: dropped the %d oldest batch(es)", dropped)
        self._outbox_file.save(self.outbox)

    def vms_changed(self, vms: Sequence[VmInfo]) -> None:
        """Report this VM list before the next samples."""
        self._vm_list = [vm_report(vm) for vm in vms]

    def request(
        self, reason: Literal["underload", "overload"], vm_uuids: Sequence[str], interval_s: float
    ) -> None:
        """Ask for a reallocation during the next ``interval_s`` (replaces an older ask)."""
        self.pending = PendingRequest(reason, tuple(vm_uuids), self._clock.now() + interval_s)

    # -- sending ---------------------------------------------------------------------------

    def _wall(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall(), UTC)

    def _refused(self, what: str, exc: ControllerRefusedError) -> bool:
        """Log a refusal; True when it means the controller forgot this host."""
        if exc.status == 404:
            logger.warning("%s: the controller does not know this host; registering again", what)
            self.registered = False
            return True
        logger.error("%s refused: %s", what, exc.detail)
        return False

    def deliver(self) -> None:
        """Make every attempt the back-off allows, in order; keep the rest."""
        self._drop_expired_request()
        if not self._attempt(self._register):
            return
        if self._attempt(self._send_vm_list):
            self._attempt(self._flush_outbox)
        if self.registered:
            self._attempt(self._send_request)

    def _attempt(self, step: Callable[[], None]) -> bool:
        """Run one step; False if it could not be sent (backing off or unreachable)."""
        try:
            step()
        except (BackingOffError, ControllerUnavailableError):
            return False
        return self.registered

    def heartbeat(self, vms: Sequence[VmInfo]) -> None:
        """Send a heartbeat with the complete VM list, if registered and reachable."""
        if not self.registered or not self._link.ready("heartbeat"):
            return
        body = Heartbeat(sent_at=self._wall(), vms=[vm_report(vm) for vm in vms])
        try:
            self._link.call("heartbeat", lambda c: c.heartbeat(self._host, body))
        except (BackingOffError, ControllerUnavailableError):
            return
        except ControllerRefusedError as exc:
            self._refused("heartbeat", exc)
            return
        self._vm_list = None

    def _register(self) -> None:
        if self.registered:
            return
        now = self._clock.now()
        if not self._refusals.ready(now):
            raise BackingOffError("registration")
        body = self._describe()
        try:
            view = self._link.call("registration", lambda c: c.register(self._host, body))
        except ControllerRefusedError as exc:
            delay = self._refusals.failed(now)
            logger.error("registration refused: %s; trying again in %.0f s", exc.detail, delay)
            raise BackingOffError("registration") from exc
        self._refusals.succeeded()
        self.registered = True
        self._vm_list = None
        logger.info("registered with the controller as %s (power %s)", view.name, view.power_state)

    def _send_vm_list(self) -> None:
        if self._vm_list is None:
            return
        body = Heartbeat(sent_at=self._wall(), vms=self._vm_list)
        try:
            self._link.call("heartbeat", lambda c: c.heartbeat(self._host, body))
        except ControllerRefusedError as exc:
            self._refused("VM report", exc)
        self._vm_list = None

    def _flush_outbox(self) -> None:
        while self.registered and self.outbox.batches:
            send = _sample_sender(self._host, self.outbox.batches[0])
            try:
                self._link.call("samples", send)
            except ControllerRefusedError as exc:
                if self._refused("sample report", exc):
                    return  # kept for after the registration
            self.outbox.batches.pop(0)
            self._outbox_file.save(self.outbox)

    def _drop_expired_request(self) -> None:
        if self.pending is not None and self._clock.now() >= self.pending.deadline:
            logger.warning(
                "%s request not delivered within its interval; dropped", self.pending.reason
            )
            self.pending = None

    def _send_request(self) -> None:
        pending = self.pending
        if pending is None:
            return
        body = reallocation_body(
            host=self._host,
            reason=pending.reason,
            vm_uuids=list(pending.vm_uuids),
            sent_at=self._wall(),
        )
        try:
            accepted = self._link.call("reallocation", lambda c: c.request_reallocation(body))
        except StaleRequestError:
            logger.info(
                "%s request was too old for the controller; waiting for the next interval",
                pending.reason,
            )
        except ControllerRefusedError as exc:
            if self._refused(f"{pending.reason} request", exc):
                return  # kept for after the registration
        else:
            logger.info("%s request accepted as #%d", pending.reason, accepted.request_id)
        self.pending = None


def _sample_sender(host: str, batch: SampleBatch) -> Callable[[ControllerClient], object]:
    def send(client: ControllerClient) -> object:
        return client.send_samples(host, batch)

    return send
