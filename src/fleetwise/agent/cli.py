"""``fleetwise agent --config FILE`` and ``fleetwise agent sim-fleet init``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from fleetwise.agent.config import AgentConfig, load_config
from fleetwise.agent.service import run_agent
from fleetwise.agent.sim_fleet import TRACE_SAMPLE_S, FleetPlan, create_fleet
from fleetwise.errors import InputError

__all__ = ["agent_app"]

agent_app = typer.Typer(
    help=(
        "Run the agent of one host, or set up a shared simulated fleet.\n\n"
        "fleetwise agent --config agent.yaml (every key is documented in "
        "examples/agent-libvirt.yaml and docs/operations.md).\n\n"
        "Without hypervisors, 'fleetwise agent sim-fleet init --path fleet.db' creates a "
        "simulated fleet that several agents share (hypervisor: {kind: simulated, "
        "fleet_path: fleet.db}); 'fleetwise lab up' starts a controller and agents on one."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)
sim_fleet_app = typer.Typer(
    help="A simulated fleet shared by several agent processes (init creates one).",
    no_args_is_help=True,
)
agent_app.add_typer(sim_fleet_app, name="sim-fleet")

_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _configure_logging(level: str, host: str) -> None:
    logging.basicConfig(
        level=_LOG_LEVELS[level],
        format=f"%(asctime)s level=%(levelname)s host={host} logger=%(name)s msg=%(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


@agent_app.callback()
def agent(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="The agent's YAML configuration file.")
    ] = None,
) -> None:
    """Run the agent of one host until SIGTERM or SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise InputError("fleetwise agent needs --config FILE")
    settings = load_config(config)
    _configure_logging(settings.log_level, settings.host)
    _warn_of_exposed_secrets(config, settings)
    run_agent(settings)


def _warn_of_exposed_secrets(config_path: Path, settings: AgentConfig) -> None:
    from fleetwise.config_file import secrets_warning
    from fleetwise.private_files import exposure_warning

    warnings = [secrets_warning(config_path, settings.inline_secrets())]
    if settings.agent_token_file is not None:
        path = settings.agent_token_file
        warnings.append(exposure_warning(path, f"the agent token file {path}"))
    for warning in warnings:
        if warning is not None:
            logging.getLogger("fleetwise.agent").warning("%s", warning)


@sim_fleet_app.command("init")
def init(
    *,
    path: Annotated[Path, typer.Option("--path", help="Fleet file to create.")],
    hosts: Annotated[int, typer.Option(help="Number of hosts.")] = 3,
    vms: Annotated[int, typer.Option(help="Number of VMs.")] = 6,
    day: Annotated[str, typer.Option(help="Bundled PlanetLab day, e.g. 20110303.")] = "20110303",
    speedup: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    cores: Annotated[int, typer.Option(help="Cores per host.")] = 4,
    core_mhz: Annotated[float, typer.Option(help="MHz per core.")] = 2660.0,
    ram_mb: Annotated[int, typer.Option(help="RAM per host (MB).")] = 8192,
    bandwidth: Annotated[float, typer.Option(help="Migration bandwidth (MB/s).")] = 62.5,
    wake_latency: Annotated[float, typer.Option(help="Seconds a host takes to wake.")] = 60.0,
) -> None:
    """Create a fleet file whose VMs replay a bundled PlanetLab day."""
    plan = FleetPlan(
        hosts=hosts,
        vms=vms,
        day=day,
        speedup=speedup,
        cores=cores,
        core_mhz=core_mhz,
        ram_mb=ram_mb,
        bandwidth_mb_s=bandwidth,
        wake_latency_s=wake_latency,
    )
    fleet = create_fleet(path, plan)
    try:
        for host, uuids in fleet.placement().items():
            typer.echo(f"{host}: {len(uuids)} VM(s)")
    finally:
        fleet.close()
    typer.echo(f"fleet written to {path} (speed-up {speedup:g}×)")
    typer.echo(
        "agent intervals are real seconds: intervals: {collect_s: "
        f"{TRACE_SAMPLE_S / speedup:g}}} collects once per {TRACE_SAMPLE_S:g} s trace step"
    )
