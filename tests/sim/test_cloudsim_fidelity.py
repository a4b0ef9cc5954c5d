"""Behaviours of CloudSim 3.0.3 found by running it side by side with the model.

Each test stages the smallest fleet that shows one behaviour where a plain reading
of the algorithms and CloudSim's arithmetic part ways.
"""

from __future__ import annotations

import numpy as np

from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.engine import CloudSimRun
from fleetwise.sim.cloudsim.hostlists import append
from fleetwise.sim.cloudsim.report import to_result
from fleetwise.traces.loader import TraceSet


def _staged(
    cpu: list[list[int]], detector: CloudSimDetector, selection: str, lists: list[list[int]]
) -> CloudSimRun:
    """A run with VMs placed as ``lists`` (host by host) and updated at the first tick."""
    traces = TraceSet("staged", tuple(f"vm{i}" for i in range(len(cpu))), np.array(cpu, np.uint8))
    run = CloudSimRun(traces, "migrate", detector, selection, 0, len(lists))
    for h, vms in enumerate(lists):
        for v in vms:
            append(run.state.lists, h, v)
            run.state.vm_host[v] = h
    run.update_hosts(300.1, tick=True)
    return run


def test_mu_ranks_use_in_mips_over_capacity_as_cloudsim_does() -> None:
    # VMs 0 (2500 MIPS) and 2 (1000 MIPS) both use u = 0.060006666666666666 at 300.1 s.
    # CloudSim ranks (u·MIPS)/MIPS: 0.06000666666666667 for VM 0, u itself for VM 2, so
    # VM 2 is the least utilised although VM 0 comes first on the host. Moving VM 2
    # alone brings host 1 (5320 MIPS) from 22.7 % under the 22 % threshold.
    run = _staged(
        [[6, 6, 8, 8], [50, 50, 50, 50], [6, 6, 8, 8]],
        CloudSimDetector("thr", 0.22),
        "mu",
        [[], [0, 1, 2]],
    )
    u = run.state.history[0, 0]
    assert u == run.state.history[2, 0] and (u * 2500) / 2500 > u == (u * 1000) / 1000
    assert run.optimizer is not None
    assert run.optimizer.optimize(1) == [(2, 0)]


def test_time_before_migration_is_timed_from_vm_entries_as_cloudsim_prints_it() -> None:
    # Two hosts, four VMs at 10 %: at 300.1 s the underload phase moves VMs 2 (1740 MB)
    # and 3 (613 MB) off host 0; their entries are in migration from 300.1 s until the
    # post-completion entries at 300.1 + 27.84 and 300.1 + 9.808 s.
    cpu = [[10] * 4 for _ in range(4)]
    traces = TraceSet("tiny", tuple(f"vm{i}" for i in range(4)), np.array(cpu, np.uint8))
    run = CloudSimRun(traces, "migrate", CloudSimDetector("thr", 0.8), "mmt", 0, 2)
    result = to_result(run.run(), "thr-mmt-0.8", "tiny", 0.0, 0, "cs303")
    t = 300.1
    assert run.metrics.migration_episodes == 2
    expected = ((t + 1740 / 62.5) - t + ((t + 613 / 62.5) - t)) / 2
    assert result.mean_time_before_migration_s == expected
    assert result.mean_migration_time_s == (1740 / 62.5 + 613 / 62.5) / 2
