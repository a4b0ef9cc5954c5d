"""Writing a new lab: its fleet, configurations, tokens, ``lab.env`` and record; or nothing.

If any step fails (an unknown day, VMs that do not fit), what was written is removed
again, so bad input leaves the state directory as it was.
"""

from __future__ import annotations

import shutil

from fleetwise.agent.sim_fleet import create_fleet
from fleetwise.demo.cluster import CONTROLLER, LocalCluster
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.record import LabProcess, LabRecord, LabShape, save_record, write_env
from fleetwise.lab.settings import cluster_settings, fleet_plan

__all__ = ["prepare"]


def prepare(paths: LabPaths, shape: LabShape, *, created: bool) -> LabRecord:
    """Write the lab of ``shape`` into ``paths.root`` (an empty directory, ``created`` by
    the caller or not) and return its record, nothing started yet."""
    try:
        create_fleet(paths.fleet, fleet_plan(shape)).close()
        cluster = LocalCluster(cluster_settings(shape, paths))
        processes = [
            LabProcess(
                name=name,
                role="controller" if name == CONTROLLER else "agent",
                host=None if name == CONTROLLER else name,
                command=tuple(cluster.command(name)),
                log=str(cluster.log_path(name).relative_to(paths.root)),
            )
            for name in [CONTROLLER, *cluster.settings.hosts]
        ]
        record = LabRecord(url=cluster.url, shape=shape, processes=tuple(processes))
        write_env(paths, cluster.url, cluster.admin_token)
        save_record(paths, record)
    except BaseException:
        _clear(paths, created=created)
        raise
    return record


def _clear(paths: LabPaths, *, created: bool) -> None:
    """Remove what :func:`prepare` wrote (the directory itself if it was ``created``)."""
    if created:
        shutil.rmtree(paths.root, ignore_errors=True)
        return
    for entry in paths.root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
