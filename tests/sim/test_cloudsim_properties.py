"""Invariants of the CloudSim model on random small fleets."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.engine import CloudSimRun
from fleetwise.sim.cloudsim.report import to_result
from fleetwise.traces.loader import TraceSet


class CheckedRun(CloudSimRun):
    """A run that checks VM conservation after every update."""

    checks = 0

    def update_hosts(self, t: float, tick: bool, remove_idle: bool = True) -> None:
        super().update_hosts(t, tick, remove_idle)
        self.check()

    def check(self) -> None:
        st_ = self.state
        hosted: Counter[int] = Counter()
        incoming: Counter[int] = Counter()
        for h, entries in enumerate(st_.host_lists):
            for e in entries:
                if e >= 0:
                    hosted[e] += 1
                    assert st_.vm_host[e] == h, "list and allocation table disagree"
                else:
                    incoming[-e - 1] += 1
        alive = set(np.flatnonzero(st_.alive).tolist())
        assert set(hosted) == alive, "a live VM is missing or a removed VM is still hosted"
        assert all(c == 1 for c in hosted.values()), "a VM is hosted twice"
        assert set(incoming) <= alive
        assert all(st_.in_migration[v] for v in incoming), "listed as incoming but not moving"
        self.checks += 1


traces_strategy = st.integers(min_value=2, max_value=14).flatmap(
    lambda vms: st.lists(
        # 16 samples: histories reach the 10 (LR) and 12 (MAD, IQR) values the rules need
        st.lists(st.integers(0, 99), min_size=16, max_size=16),
        min_size=vms,
        max_size=vms,
    )
)
policies = st.sampled_from(
    [("thr", 0.8), ("thr", 0.5), ("mad", 2.5), ("iqr", 1.5), ("lr", 1.2), ("lrr", 1.0)]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=traces_strategy,
    policy=policies,
    selection=st.sampled_from(["mmt", "mu", "rs", "mc"]),
    hosts=st.integers(2, 8),
)
def test_every_step_conserves_vms_and_metrics_stay_in_range(
    rows: list[list[int]], policy: tuple[str, float], selection: str, hosts: int
) -> None:
    cpu = np.asarray(rows, dtype=np.uint8)
    traces = TraceSet("random", tuple(f"vm{i:02d}" for i in range(len(rows))), cpu)
    detector = CloudSimDetector(policy[0], policy[1])  # type: ignore[arg-type]
    try:
        run = CheckedRun(traces, "migrate", detector, selection, 7, hosts)
        outcome = run.run()
    except InputError as exc:  # too many VMs for the hosts at start-up
        assert "does not fit" in str(exc)
        return
    assert run.checks > 0
    assert not run.state.in_migration.any(), "a migration never completed"
    result = to_result(outcome, "p", "random", 0.0, 7, "cs303")
    for ratio in (result.slatah, result.pdm, result.sla_overall, result.sla_average, result.aitf):
        assert 0.0 <= ratio <= 1.0
    assert result.slav <= result.slatah
    peak = hosts * 135.0 * 16 * 300
    assert 0.0 <= outcome.energy_ws <= peak
    assert outcome.migrations >= int(outcome.migrations_per_tick.sum()) >= 0


def test_same_seed_gives_the_same_run_and_rs_depends_on_it() -> None:
    rng = np.random.default_rng(3)
    cpu = rng.integers(0, 60, size=(40, 12)).astype(np.uint8)
    traces = TraceSet("r", tuple(f"v{i:02d}" for i in range(40)), cpu)

    def run(seed: int) -> tuple[float, int]:
        out = CloudSimRun(traces, "migrate", CloudSimDetector("thr", 0.5), "rs", seed, 30).run()
        return out.energy_ws, out.migrations

    assert run(1) == run(1)
    assert len({run(s) for s in range(6)}) > 1
