"""The CloudSim model's compiled pieces against their plain definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetwise.sim.cloudsim as cloudsim_package
from fleetwise.core.overload.regression import bisquare_weights, fit_line, tricube_weights
from fleetwise.core.selection.simple import selection_key
from fleetwise.sim.cloudsim.aot import aot_module_path
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.hostlists import append, entries, new_host_lists, unlink
from fleetwise.sim.cloudsim.kernels import pairwise_sum
from fleetwise.sim.cloudsim.rules import (
    _weighted_prediction,
    overloaded,
    prediction,
    rule_for,
    spread,
)
from fleetwise.traces.loader import TraceSet

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@settings(max_examples=300)
@given(st.lists(finite, max_size=700))
def test_pairwise_sum_is_numpys_sum_to_the_last_bit(values: list[float]) -> None:
    array = np.asarray(values, dtype=np.float64)
    assert pairwise_sum(array) == float(array.sum())


histories = st.lists(st.floats(0.0, 1.5, allow_subnormal=False), max_size=30)


@settings(max_examples=400)
@given(
    kind=st.sampled_from(["thr", "mad", "iqr", "lr", "lrr"]),
    param=st.floats(0.5, 3.0),
    history=histories,
    rho=st.floats(0.0, 1.2),
)
def test_compiled_rule_decides_as_the_readable_detector(
    kind: str, param: float, history: list[float], rho: float
) -> None:
    h = np.asarray(history, dtype=np.float64)
    reference = CloudSimDetector(kind, param).overloaded(h, rho)  # type: ignore[arg-type]
    assert overloaded(rule_for(kind, param), h, rho) == reference


@settings(max_examples=400)
@given(history=st.lists(st.floats(0.0, 1.5, allow_subnormal=False), min_size=12, max_size=30))
def test_compiled_spreads_and_predictions_equal_the_readable_ones_to_the_last_bit(
    history: list[float],
) -> None:
    h = np.asarray(history, dtype=np.float64)
    for kind in ("mad", "iqr"):
        assert spread(rule_for(kind, 1.0), h) == CloudSimDetector(kind, 1.0).spread(h)
    for kind in ("lr", "lrr"):  # 3.0.3 applies no weights: both are ordinary least squares
        assert prediction(rule_for(kind, 1.0), h) == CloudSimDetector(kind, 1.0).prediction(h)


@settings(max_examples=200)
@given(y=st.lists(st.floats(0.0, 1.5, allow_subnormal=False), min_size=10, max_size=10))
def test_weighted_regression_predicts_as_the_core_fit(y: list[float]) -> None:
    x = np.arange(1.0, 11.0)
    values = np.asarray(y)
    a, b = fit_line(x, values, tricube_weights(10) ** 2)
    assert _weighted_prediction(rule_for("lr", 1.0, "tricube"), values) == pytest.approx(
        a + b * 11.0, rel=1e-9, abs=1e-12
    )
    residuals = values - (a + b * x)
    a, b = fit_line(x, values, (tricube_weights(10) * bisquare_weights(residuals)) ** 2)
    assert _weighted_prediction(rule_for("lrr", 1.0, "tricube"), values) == pytest.approx(
        a + b * 11.0, rel=1e-9, abs=1e-12
    )


operations = st.lists(st.tuples(st.booleans(), st.integers(0, 11), st.integers(0, 3)), max_size=60)


@given(operations)
def test_host_lists_behave_as_python_lists(ops: list[tuple[bool, int, int]]) -> None:
    lists = new_host_lists(4, 12)
    lists.vm[:] = np.arange(12)
    model: list[list[int]] = [[] for _ in range(4)]
    where: dict[int, int] = {}
    for add, node, host in ops:
        if add and node not in where:
            append(lists, host, node)
            model[host].append(node)
            where[node] = host
        elif not add and node in where:
            unlink(lists, node)
            model[where.pop(node)].remove(node)
    assert entries(lists, 12) == model
    listed = {node for row in model for node in row}
    assert all((lists.owner[n] >= 0) == (n in listed) for n in range(12))


def _fleet(seed: int, vms: int = 24, samples: int = 30) -> TraceSet:
    rng = np.random.default_rng(seed)
    cpu = rng.integers(0, 100, size=(vms, samples)).astype(np.uint8)
    return TraceSet("random", tuple(f"vm{i:02d}" for i in range(vms)), cpu)


def test_only_policies_that_judge_each_vm_alone_are_keyed() -> None:
    assert selection_key("rs") is None
    assert selection_key("mc") is None
    mmt = selection_key("mmt")
    assert mmt is not None and not mmt.uses_history
    mu = selection_key("mu")
    assert mu is not None and mu.uses_history


def test_kernel_cache_is_dropped_when_a_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kernels.py").write_text("A = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    monkeypatch.setattr(cloudsim_package, "_PACKAGE", tmp_path)
    cloudsim_package._drop_stale_kernel_cache()
    kept = [cache / "kernels.f-1.py311.nbi", cache / "_fleetwise_day_0123.so"]
    for path in kept:
        path.write_text("compiled")
    cloudsim_package._drop_stale_kernel_cache()
    assert all(path.exists() for path in kept), "unchanged sources keep the cache"
    (tmp_path / "kernels.py").write_text("A = 2\n")
    cloudsim_package._drop_stale_kernel_cache()
    assert not any(path.exists() for path in kept), "a changed source drops it"


def test_kernels_count_as_cached_once_the_day_module_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloudsim_package, "_PACKAGE", tmp_path)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not cloudsim_package.kernels_cached()
    (tmp_path / "__pycache__").mkdir()
    aot_module_path().write_text("module")
    assert cloudsim_package.kernels_cached()
