"""``fleetwise lab``: a controller and agents on a simulated fleet, in the background.

The lab writes everything into one state directory (see :mod:`fleetwise.lab.paths`),
starts its processes detached from the command that started them, and records their
pids so that later commands (status, crash, kill, start, down) find them.
"""

__all__: list[str] = []
