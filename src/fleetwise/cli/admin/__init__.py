"""Admin commands against the controller's REST API: ``fleetwise hosts|vms|plans|
migrations …`` and ``fleetwise stats`` (see ``docs/cli.md``).

The controller URL and admin token come from ``--url``/``--token`` or the environment
variables ``FLEETWISE_URL`` and ``FLEETWISE_TOKEN`` (or ``--token-file``); ``--json``
prints the controller's answer as JSON.
"""

from __future__ import annotations

from fleetwise.cli.admin.command import AdminCommand
from fleetwise.cli.admin.hosts import hosts_app
from fleetwise.cli.admin.migrations import migrations_app
from fleetwise.cli.admin.plans import plans_app
from fleetwise.cli.admin.stats import stats
from fleetwise.cli.admin.vms import vms_app

__all__ = ["AdminCommand", "hosts_app", "migrations_app", "plans_app", "stats", "vms_app"]
