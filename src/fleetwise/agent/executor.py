"""Runs the migrations the controller assigns to this host.

Each poll fetches the assignments, starts those not started yet in worker threads (at
most ``max_concurrent`` at a time) and reports results that are still owed. An action
id is never run twice at the same time, and the journal makes that hold across
restarts:

* running here now, or interrupted by a restart and not resolved: not started again;
* done and not yet reported: the result is reported, nothing is started;
* done, reported and failed, yet assigned again: the controller retries it, so it runs;
* done, reported and successful: the result is reported again (the VM has left).

An interrupted action is resolved from where the VM is: gone from this host means the
move happened; still here and migrating means it is still under way; still here and
not migrating means it did not happen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fleetwise.agent.client import (
    ControllerClient,
    ControllerRefusedError,
    ControllerUnavailableError,
)
from fleetwise.agent.journal import ActionEntry, ActionJournal, ActionStatus
from fleetwise.agent.link import BackingOffError, ControllerLink
from fleetwise.api.schemas import ActionProgress, ActionResult, Assignment
from fleetwise.drivers.hypervisor.base import (
    Hypervisor,
    MigrationProgress,
    MigrationTarget,
    VmState,
)
from fleetwise.errors import DriverError
from fleetwise.service.clock import WallClock

__all__ = ["MigrationExecutor"]

logger = logging.getLogger(__name__)


class MigrationExecutor:
    """Polls and runs this host's migration assignments.

    ``progress_every_s`` (clock seconds) spaces the progress reports of one migration.
    ``clock_speed`` is how many clock seconds pass per real second: an assignment's
    time-out, in the controller's real seconds, is scaled by it for the hypervisor.
    """

    def __init__(
        self,
        host: str,
        hypervisor: Hypervisor,
        link: ControllerLink,
        journal: ActionJournal,
        clock: WallClock,
        *,
        max_concurrent: int,
        progress_every_s: float,
        clock_speed: float = 1.0,
    ) -> None:
        self._host = host
        self._hypervisor = hypervisor
        self._link = link
        self._journal = journal
        self._clock = clock
        self._max_concurrent = max_concurrent
        self._progress_every_s = progress_every_s
        self._clock_speed = clock_speed
        self._lock = threading.Lock()
        self._running: dict[int, threading.Thread] = {}
        self._leaving: dict[int, str] = {}
        self._accepting = True

    # -- state -------------------------------------------------------------------------

    def busy(self) -> bool:
        """Whether a migration away from this host is under way."""
        with self._lock:
            return bool(self._running)

    def leaving(self) -> set[str]:
        """UUIDs of VMs being migrated away by this agent."""
        with self._lock:
            return set(self._leaving.values())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait (real time) for the running migrations to end; False on time-out."""
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(timeout)
        return not self.busy()

    def stop(self, grace_s: float) -> None:
        """Start no more migrations; give running ones ``grace_s`` real seconds to end."""
        with self._lock:
            self._accepting = False
        if not self.wait_idle(grace_s):
            logger.warning("stopping with migrations still running; they are resolved at restart")

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> None:
        """Resolve interrupted actions, report owed results, start new assignments."""
        self.resolve_interrupted()
        self.report_results()
        try:
            assignments = self._link.call("assignments", lambda c: c.assignments(self._host))
        except (BackingOffError, ControllerUnavailableError):
            return
        except ControllerRefusedError as exc:
            logger.error("assignment poll refused: %s", exc.detail)
            return
        for assignment in assignments:
            self._consider(assignment)
        self.report_results()

    def _consider(self, assignment: Assignment) -> None:
        action_id = assignment.action_id
        with self._lock:
            if action_id in self._running or not self._accepting:
                return
            if len(self._running) >= self._max_concurrent:
                logger.debug(
                    "action %d waits: %d migrations running", action_id, len(self._running)
                )
                return
        entry = self._journal.get(action_id)
        if entry is not None and not (entry.status is ActionStatus.DONE and entry.reported):
            return  # interrupted (resolved elsewhere) or a result still to report
        if entry is not None and entry.ok:
            self._journal.finish(action_id, True, entry.error)  # report it once more
            return
        self._start(assignment)

    def _start(self, assignment: Assignment) -> None:
        self._journal.start(assignment.action_id, assignment.vm_uuid, assignment.destination_host)
        thread = threading.Thread(
            target=self._run,
            args=(assignment,),
            name=f"migrate-{assignment.action_id}",
            daemon=True,
        )
        with self._lock:
            self._running[assignment.action_id] = thread
            self._leaving[assignment.action_id] = assignment.vm_uuid
        logger.info(
            "action %d: migrating VM %s to %s",
            assignment.action_id,
            assignment.vm_uuid,
            assignment.destination_host,
        )
        thread.start()

    def _run(self, assignment: Assignment) -> None:
        action_id = assignment.action_id
        try:
            ok, error = self._migrate(assignment)
            self._journal.finish(action_id, ok, error[:4000])
            level = logging.INFO if ok else logging.WARNING
            logger.log(level, "action %d: %s", action_id, "done" if ok else f"failed: {error}")
        except Exception:
            # Left RUNNING in the journal: resolved from the VM's location at restart.
            logger.exception("action %d: outcome could not be recorded", action_id)
        finally:
            with self._lock:
                self._running.pop(action_id, None)
                self._leaving.pop(action_id, None)

    def _migrate(self, assignment: Assignment) -> tuple[bool, str]:
        """Run the migration; (succeeded, error message)."""
        target = MigrationTarget(
            host=assignment.destination_host,
            uri=assignment.destination_uri,
            migration_uri=assignment.migration_uri,
        )
        try:
            result = self._hypervisor.migrate(
                assignment.vm_uuid,
                target,
                progress=self._progress_reporter(assignment.action_id),
                timeout_s=assignment.timeout_s * self._clock_speed,
            )
        except DriverError as exc:
            return False, str(exc)
        except Exception as exc:
            logger.exception("action %d: migration crashed", assignment.action_id)
            return False, f"{type(exc).__name__}: {exc}"
        if result.succeeded:
            return True, ""
        return False, f"{result.outcome.value}: {result.message}"

    def _progress_reporter(self, action_id: int) -> Callable[[MigrationProgress], None]:
        last_sent = [float("-inf")]

        def report(progress: MigrationProgress) -> None:
            fraction = progress.fraction
            now = self._clock.now()
            if fraction is None or now - last_sent[0] < self._progress_every_s:
                return
            last_sent[0] = now
            body = ActionProgress(percent=round(100.0 * fraction, 1), note="")
            try:
                self._link.call("progress", lambda c: c.report_progress(action_id, body))
            except (BackingOffError, DriverError) as exc:
                logger.debug("progress of action %d not reported: %s", action_id, exc)

        return report

    # -- results ---------------------------------------------------------------------------

    def report_results(self) -> None:
        """Send every result the controller does not have yet."""
        for entry in self._journal.entries():
            if entry.status is not ActionStatus.DONE or entry.reported:
                continue
            try:
                self._link.call("results", _result_sender(entry))
            except (BackingOffError, ControllerUnavailableError):
                return
            except ControllerRefusedError as exc:
                logger.warning("result of action %d refused: %s", entry.action_id, exc.detail)
            self._journal.mark_reported(entry.action_id)

    def resolve_interrupted(self) -> None:
        """Decide how migrations cut short by a restart ended, from where the VM is."""
        for entry in self._journal.entries():
            if entry.status is ActionStatus.INTERRUPTED:
                self._resolve(entry)

    def _resolve(self, entry: ActionEntry) -> None:
        try:
            vm = next((v for v in self._hypervisor.list_vms() if v.uuid == entry.vm_uuid), None)
        except DriverError as exc:
            logger.warning("cannot check VM %s after a restart: %s", entry.vm_uuid, exc)
            return
        if vm is None:
            note = "finished while the agent was restarting: the VM left this host"
            self._journal.finish(entry.action_id, True, note)
        elif vm.state is VmState.MIGRATING:
            return  # still under way; look again on the next poll
        else:
            note = "interrupted by an agent restart: the VM is still on the source host"
            self._journal.finish(entry.action_id, False, note)
        logger.info("action %d: %s", entry.action_id, note)


def _result_sender(entry: ActionEntry) -> Callable[[ControllerClient], None]:
    body = ActionResult(ok=bool(entry.ok), error=entry.error)

    def send(client: ControllerClient) -> None:
        client.report_result(entry.action_id, body)

    return send
