"""The agent of one host: collector, local manager, reports and migration execution.

Start one with ``fleetwise agent --config FILE``; see :mod:`fleetwise.agent.config` for
the file and :mod:`fleetwise.agent.service` for its periodic tasks.
"""

from __future__ import annotations

from fleetwise.agent.config import AgentConfig, load_config, parse_config
from fleetwise.agent.service import Agent, build_agent, run_agent

__all__ = ["Agent", "AgentConfig", "build_agent", "load_config", "parse_config", "run_agent"]
