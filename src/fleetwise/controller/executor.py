"""The plan executor: a periodic task running the executor's pass
(:class:`~fleetwise.controller.usecases.execution.ExecutionPass`)."""

from __future__ import annotations

from typing import Any

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases.execution import ExecutionPass
from fleetwise.service import Manager

__all__ = ["ExecutorService"]


class ExecutorService(Manager):
    """Runs one pass every ``executor_spacing_s``."""

    def __init__(self, context: ControllerContext, **kwargs: Any) -> None:
        super().__init__(context.clock, **kwargs)
        self.context = context
        self._pass = ExecutionPass(context)
        self.add_periodic_task(
            self.execute,
            spacing=context.config.executor_spacing_s,
            run_immediately=True,
            name="execute_plans",
        )

    def execute(self) -> None:
        """One pass over every open plan and running action."""
        self._pass.run()
