"""A fleet small enough to follow by hand through the CloudSim model.

Two hosts (0: G4, 3720 MIPS; 1: G5, 5320 MIPS) and four VMs, one per type
(2500/870, 2000/1740, 1000/1740, 500/613 MIPS/MB), each steady at 10 % for four
samples (ticks at 300.1, 600.1 and 900.1 s).

Start-up (PABFD, cheapest power increase): VMs 0 and 1 need 2500 and 2000 MIPS per
PE, so only the G5 fits them; VMs 2 and 3 then cost less on the idle G4.

Tick 300.1: loads are 150/3720 and 450/5320; nothing is overloaded. The underload
phase takes the least-utilised host 0 and moves its VMs (100 then 50 MIPS) to host 1.
They complete after 1740/62.5 = 27.84 s and 613/62.5 = 9.808 s. Afterwards host 1
carries everything and host 0 (off) is never a target, so nothing else moves.
"""

from __future__ import annotations

import numpy as np
import pytest

from fleetwise.core.power import POWER_MODELS
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.engine import CloudSimRun
from fleetwise.sim.cloudsim.report import to_result
from fleetwise.traces.loader import TraceSet

G4 = POWER_MODELS["hp-ml110-g4"]
G5 = POWER_MODELS["hp-ml110-g5"]


def _steady(percent: int, vms: int = 4, samples: int = 4) -> TraceSet:
    cpu = np.full((vms, samples), percent, dtype=np.uint8)
    return TraceSet("tiny", tuple(f"vm{i}" for i in range(vms)), cpu)


def _run(mode: str, detector: CloudSimDetector | None = None, hosts: int = 2):
    run = CloudSimRun(_steady(10), mode, detector, "mmt", 0, hosts)  # type: ignore[arg-type]
    outcome = run.run()
    return run, outcome, to_result(outcome, "p", "tiny", 0.0, 0, "cs303")


def test_initial_placement_follows_power_aware_best_fit() -> None:
    run = CloudSimRun(_steady(10), "migrate", CloudSimDetector("thr", 0.8), "mmt", 0, 2)
    run.initial_placement()
    assert run.state.host_lists == [[2, 3], [0, 1]]


def test_underloaded_host_is_emptied_by_hand_computed_migrations() -> None:
    run, outcome, result = _run("migrate", CloudSimDetector("thr", 0.8))
    assert outcome.migrations == 2
    assert run.state.host_lists == [[], [0, 1, 3, 2]]  # arrival order: 613 MB VM first
    assert list(outcome.migrations_per_tick) == [2, 0, 0]

    t1 = 300.1
    done3 = t1 + 613 / 62.5
    done2 = t1 + 1740 / 62.5
    end = 900.1
    expected_ws = (
        G4.power(150 / 3720) * (done3 - t1)
        + G5.power(465 / 5320) * (done3 - t1)  # 10 % shares of both incoming VMs
        + G4.power(100 / 3720) * (done2 - done3)
        + G5.power(510 / 5320) * (done2 - done3)
        + G5.power(600 / 5320) * (end - done2)
    )
    assert outcome.energy_ws == pytest.approx(expected_ws, rel=1e-12)

    # SLATAH: the target is short of the incoming VMs' full requests while they migrate.
    active = (done2 - t1) + (end - t1)
    assert result.slatah == pytest.approx((done2 - t1) / active, rel=1e-12)
    # PDM: the migrating VMs get 90 % at the source while they move.
    shortfall = (100 - 90) * (done2 - t1) + (50 - 45) * (done3 - t1)
    requested = (250 + 200 + 100 + 50) * (end - t1)
    assert result.pdm == pytest.approx(shortfall / requested, rel=1e-12)
    assert result.host_shutdowns == 1
    assert result.mean_migration_time_s == pytest.approx((27.84 + 9.808) / 2)


def test_dvfs_energy_is_power_at_load_over_the_charged_frames() -> None:
    run, outcome, result = _run("dvfs")
    # First fit: VM 0 and 1 on the G5 (the G4's PEs are too small), 2 and 3 on the G4.
    assert run.state.host_lists == [[2, 3], [0, 1]]
    frames = 600.0  # [300.1, 900.1]; the first frame is never charged
    expected = (G4.power(150 / 3720) + G5.power(450 / 5320)) * frames
    assert outcome.energy_ws == pytest.approx(expected, rel=1e-12)
    assert outcome.migrations == 0
    assert result.slatah == 0.0


def test_npa_charges_full_power_from_time_zero() -> None:
    _, outcome, _ = _run("npa")
    assert outcome.energy_ws == pytest.approx((117 + 135) * 900.1, rel=1e-12)


def test_idle_vms_leave_the_data_centre() -> None:
    cpu = np.array([[10, 10, 10, 10], [10, 0, 0, 10], [10, 10, 10, 10], [10, 10, 10, 10]])
    traces = TraceSet("zeros", ("a", "b", "c", "d"), cpu.astype(np.uint8))
    outcome = CloudSimRun(traces, "dvfs", None, "mmt", 0, 2).run()
    # VM 1 requests exactly 0 at the tick whose samples are 0 and 0, and vanishes.
    assert outcome.removed_vms == 1
