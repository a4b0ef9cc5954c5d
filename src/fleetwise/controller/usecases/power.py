"""Wake-up and sleep actions, carried out through the hosts' power drivers.

A wake-up moves the host ASLEEP → WAKING, asks the driver to wake it, and succeeds
once the host's agent is heard from again (a heartbeat or a registration after the
attempt began); after the wake timeout the host is recorded ASLEEP again and the
attempt failed. A sleep runs only on an awake host that holds no VM and takes part
in no migration, and never when that would leave fewer empty hosts awake than the
configured spares; it moves ACTIVE → GOING_TO_SLEEP → ASLEEP, or back to ACTIVE
if the driver fails.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.observation import observe_fleet
from fleetwise.core.execution import sleep_blocker as core_sleep_blocker
from fleetwise.core.lifecycle import ActionState, HostPowerState, PlanState, is_terminal
from fleetwise.errors import DriverError, InputError
from fleetwise.store.attempts import begin_power_attempt, fail_attempt, succeed_action
from fleetwise.store.fleet import read_fleet
from fleetwise.store.inventory import get_host
from fleetwise.store.views import ActionView

__all__ = ["advance_wake", "attempt_sleep", "sleep_blocker"]

logger = logging.getLogger(__name__)

H = HostPowerState


def _send_wake(context: ControllerContext, action: ActionView, now: datetime) -> None:
    host = action.host
    assert host is not None
    driver = context.power.driver_for(host)
    if driver is None:
        context.store.run(
            fail_attempt, action.id, f"host {host} has no power control", now=now, final=True
        )
        return
    context.store.run(
        begin_power_attempt, action.id, H.ASLEEP, H.WAKING, now=now, reason=f"plan {action.plan_id}"
    )
    try:
        driver.wake(host)
    except (DriverError, InputError) as exc:
        logger.warning("wake-up of %s failed: %s", host, exc)
        context.store.run(
            fail_attempt, action.id, f"wake-up failed: {exc}", now=now, power=(H.WAKING, H.ASLEEP)
        )
        return
    logger.info("wake-up of %s sent (action %s, attempt %s)", host, action.id, action.attempts + 1)


def advance_wake(
    context: ControllerContext, action: ActionView, plan_state: PlanState, now: datetime
) -> None:
    """Start, retry, confirm or time out a wake-up action."""
    assert action.host is not None
    store = context.store
    host = store.read(get_host, action.host)
    if host.power_state is H.ACTIVE:
        logger.info("host %s was already awake (action %s)", host.name, action.id)
        store.run(succeed_action, action.id, now=now)
    elif host.power_state is H.WAKING and action.state is ActionState.ONGOING:
        heard = host.last_heartbeat is not None and host.last_heartbeat > action.updated_at
        if heard:
            logger.info("host %s is back", host.name)
            store.run(
                succeed_action, action.id, now=now, power=(H.WAKING, H.ACTIVE), reason="agent heard"
            )
        elif now - action.updated_at > timedelta(seconds=context.config.wake_timeout_s):
            error = f"host {host.name} did not come back within {context.config.wake_timeout_s:g} s"
            logger.warning("%s", error)
            store.run(fail_attempt, action.id, error, now=now, power=(H.WAKING, H.ASLEEP))
    elif host.power_state is H.ASLEEP:
        if is_terminal(plan_state):
            store.run(fail_attempt, action.id, f"plan is {plan_state.value}", now=now, final=True)
        else:
            _send_wake(context, action, now)


def sleep_blocker(context: ControllerContext, host_name: str, now: datetime) -> str | None:
    """Why ``host_name`` must not go to sleep now, or None if it may (see the core's rule)."""
    fleet = context.store.read(read_fleet, 1)
    observation = observe_fleet(fleet, now=now, power_control=context.power.can_control)
    return core_sleep_blocker(
        host_name,
        observation,
        spare_hosts=context.config.global_manager.spare_hosts,
        heartbeat_timeout_s=context.config.heartbeat_timeout_s,
    )


def attempt_sleep(
    context: ControllerContext, action: ActionView, plan_state: PlanState, now: datetime
) -> None:
    """Put the action's host to sleep if it may sleep; otherwise skip (or fail a retry)."""
    assert action.host is not None
    store = context.store
    if is_terminal(plan_state):
        store.run(fail_attempt, action.id, f"plan is {plan_state.value}", now=now, final=True)
        return
    blocker = sleep_blocker(context, action.host, now)
    if blocker is not None:
        if action.state is ActionState.PENDING:
            logger.info("sleep of %s skipped: %s", action.host, blocker)
            store.run(succeed_action, action.id, now=now, note=blocker, skip=True)
        else:
            store.run(fail_attempt, action.id, blocker, now=now, final=True)
        return
    driver = context.power.driver_for(action.host)
    assert driver is not None
    store.run(
        begin_power_attempt,
        action.id,
        H.ACTIVE,
        H.GOING_TO_SLEEP,
        now=now,
        reason=f"plan {action.plan_id}",
    )
    try:
        driver.sleep(action.host)
    except (DriverError, InputError) as exc:
        logger.warning("sleep of %s failed: %s", action.host, exc)
        store.run(
            fail_attempt,
            action.id,
            f"sleep failed: {exc}",
            now=now,
            power=(H.GOING_TO_SLEEP, H.ACTIVE),
        )
        return
    logger.info("host %s is asleep (action %s)", action.host, action.id)
    store.run(
        succeed_action,
        action.id,
        now=now,
        power=(H.GOING_TO_SLEEP, H.ASLEEP),
        reason=f"plan {action.plan_id}",
    )
