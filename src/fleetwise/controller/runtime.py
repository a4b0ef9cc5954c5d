"""Running the controller: the API server and the managers, until SIGTERM or SIGINT.

The REST API is served by uvicorn in the main thread (which turns SIGTERM and SIGINT
into a graceful shutdown); the global manager and the executor run their periodic
tasks in a second thread. When either side stops, the other is stopped too, then
the store is closed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import uvicorn

from fleetwise.config_file import secrets_warning
from fleetwise.controller.api import create_app
from fleetwise.controller.config import ControllerConfig
from fleetwise.controller.context import ControllerContext, build_context
from fleetwise.controller.executor import ExecutorService
from fleetwise.controller.global_manager import GlobalManagerService
from fleetwise.private_files import ensure_private_dir, exposure_warning
from fleetwise.service import ServiceRunner
from fleetwise.store.database import safe_url

__all__ = ["managers", "prepare_state", "serve"]

logger = logging.getLogger(__name__)


def prepare_state(config: ControllerConfig, config_path: Path) -> None:
    """Create the state directory (0700) if the database lives there; warn of exposed
    state or secrets. Raises ParameterError in one line when it cannot be created."""
    warnings = [secrets_warning(config_path, config.inline_secrets())]
    if config.database_url is None:
        warnings.append(ensure_private_dir(config.state_dir, "state_dir"))
        database = config.state_dir / "controller.db"
        warnings.append(exposure_warning(database, f"the database {database}"))
    for warning in warnings:
        if warning is not None:
            logger.warning("%s", warning)


def managers(context: ControllerContext) -> ServiceRunner:
    """A runner for the controller's managers on ``context``."""
    return ServiceRunner([GlobalManagerService(context), ExecutorService(context)])


def serve(config: ControllerConfig) -> None:
    """Serve the API and run the managers until asked to stop."""
    context = build_context(config)
    logger.info(
        "controller starting: database=%s listen=%s:%d mode=%s",
        safe_url(config.database),
        config.listen.host,
        config.listen.port,
        config.mode,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(context),
            host=config.listen.host,
            port=config.listen.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    runner = managers(context)

    def run_managers() -> None:
        try:
            runner.run()
        except BaseException:
            logger.exception("the managers stopped on an error; shutting down")
            raise
        finally:
            server.should_exit = True

    # uvicorn restores these handlers and re-raises the signal once it has shut down,
    # which then stops the managers too.
    runner.install_signal_handlers()
    thread = threading.Thread(target=run_managers, name="fleetwise-managers")
    thread.start()
    try:
        server.run()
    finally:
        runner.request_stop()
        thread.join()
        context.close()
        logger.info("controller stopped")
