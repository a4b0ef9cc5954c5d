"""Maximum-correlation VM selection: hand-checked cases, fallbacks, and bit-exact R².

The reference R² values below were produced by Apache commons-math3 3.6.1
(``OLSMultipleLinearRegression`` with the CloudSim 3.0.3 calling sequence) on the same
inputs; they are written as ``float.hex`` strings so that the comparison is bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwise.core.selection import SELECTION
from fleetwise.core.selection._householder import householder_r_squared
from fleetwise.core.selection.correlation import (
    McParams,
    _first_maximum,
    maximum_correlation,
    r_squared,
    relative_history_columns,
)
from fleetwise.core.types import SelectionContext, VmObservation
from fleetwise.errors import InputError, ParameterError

CTX = SelectionContext(seed=7)
EXACT = McParams()
LSTSQ = McParams(exact=False)


def vm(
    vm_id: str, history: list[float] | np.ndarray, *, ram: float = 870.0, capacity: float = 1.0
) -> VmObservation:
    return VmObservation(vm_id, ram, capacity, np.asarray(history, dtype=np.float64))


def percent_vms(
    newest_first: list[list[int]], rams: list[float] | None = None
) -> tuple[VmObservation, ...]:
    """VMs whose utilisation is ``percent / 100`` (capacity 100), given newest sample first."""
    rams = rams or [870.0] * len(newest_first)
    return tuple(
        vm(f"vm{i}", [float(p) for p in reversed(col)], ram=ram, capacity=100.0)
        for i, (col, ram) in enumerate(zip(newest_first, rams, strict=True))
    )


def hex_floats(values: np.ndarray) -> list[str]:
    return [float(v).hex() for v in values]


def chosen_id(vms: tuple[VmObservation, ...], params: McParams) -> str:
    index = maximum_correlation(vms, CTX, params=params)
    assert index is not None
    return vms[index].vm_id


# --- bit-exact agreement with commons-math ---------------------------------------------

PERCENT_GOLDEN = [
    pytest.param(
        [[41, 80, 1, 6], [6, 86, 10, 96]],
        ["0x1.158f741c2ed18p-4", "0x1.158f741c2ed20p-4"],
        1,
        id="two-vms-rounding-decides",
    ),
    pytest.param(
        [[50, 50, 50, 50, 50], [10, 20, 40, 30, 20], [30, 10, 70, 20, 90]],
        ["-inf", "-0x1.16d25a6edcbd4p+1", "0x1.fb0c034c8f480p-5"],
        2,
        id="constant-history-not-exactly-singular",
    ),
    pytest.param(
        [
            [24, 68, 9, 21, 32, 31, 91, 80, 92, 100, 7, 14],
            [87, 7, 16, 18, 92, 36, 26, 17, 46, 59, 80, 62],
            [99, 10, 49, 57, 69, 0, 20, 46, 6, 98, 64, 80],
            [52, 60, 34, 32, 13, 20, 77, 44, 83, 28, 72, 88],
        ],
        [
            "0x1.edd251bbcd298p-4",
            "0x1.a08d6df118974p-2",
            "0x1.a8c5be7eb0d50p-2",
            "0x1.9dc3652f54fc0p-5",
        ],
        2,
        id="four-vms-twelve-samples",
    ),
    pytest.param(
        [[12, 55, 31], [70, 8, 45], [22, 91, 64]],
        ["0x1.0000000000000p+0"] * 3,
        0,
        id="exact-fit-n-equals-m",
    ),
    pytest.param(
        [[50, 50, 75, 75], [75, 50, 0, 25], [0, 75, 25, 50]],
        ["0x1.aaaaaaaaaaaaap-1", "0x1.ae147ae147ae1p-1", "0x1.9999999999998p-3"],
        1,
        id="zero-pivot-takes-the-positive-norm",
    ),
]


@pytest.mark.parametrize(("newest_first", "expected_hex", "expected_index"), PERCENT_GOLDEN)
def test_exact_r_squared_matches_commons_math_bit_for_bit(
    newest_first: list[list[int]], expected_hex: list[str], expected_index: int
) -> None:
    vms = percent_vms(newest_first)
    scores = r_squared(relative_history_columns(vms))
    assert scores is not None
    assert hex_floats(scores) == expected_hex
    assert maximum_correlation(vms, CTX, params=EXACT) == expected_index


# Percent samples of five VMs, oldest first; the CloudSim history value at tick k is
# interpolated 0.1 s past sample k, i.e. d[k] + (d[k+1] - d[k]) / 3000.
TRACES = [
    [41, 21, 88, 42, 48, 81, 27, 27, 78, 82, 100, 10, 65, 44, 90, 84,
     45, 20, 55, 30, 1, 34, 70, 21, 74, 93, 48, 56, 93, 85, 27],
    [53, 89, 25, 3, 26, 78, 95, 71, 21, 27, 0, 5, 63, 11, 34, 92,
     46, 25, 13, 69, 49, 16, 15, 35, 63, 92, 0, 21, 59, 30, 58],
    [94, 59, 83, 68, 27, 37, 2, 72, 25, 80, 58, 90, 66, 57, 30, 95,
     5, 83, 71, 57, 95, 2, 71, 75, 79, 33, 98, 77, 73, 47, 81],
    [2, 75, 2, 3, 13, 16, 6, 85, 1, 35, 44, 59, 47, 13, 33, 89,
     21, 14, 6, 45, 82, 87, 55, 87, 89, 55, 78, 72, 39, 80, 7],
    [100, 31, 20, 95, 56, 84, 18, 46, 15, 25, 82, 57, 37, 78, 87, 50,
     68, 45, 92, 36, 19, 23, 82, 32, 36, 45, 59, 9, 16, 93, 25],
]  # fmt: skip


def test_exact_r_squared_on_interpolated_cloudsim_histories() -> None:
    vms = []
    for i, trace in enumerate(TRACES):
        d = np.asarray(trace, dtype=np.float64) / 100
        vms.append(vm(f"vm{i}", d[:-1] + (d[1:] - d[:-1]) / 3000))
    scores = r_squared(relative_history_columns(tuple(vms)))
    assert scores is not None
    assert hex_floats(scores) == [
        "0x1.7973953b45950p-5",
        "0x1.0aeb3bed0cbd4p-3",
        "0x1.eae2793d29e80p-4",
        "0x1.62ced67710ef0p-3",
        "0x1.39f1c9ed9c81cp-3",
    ]
    assert maximum_correlation(tuple(vms), CTX, params=EXACT) == 3


# --- hand-checkable cases ----------------------------------------------------------------

# Rows newest first. With e1 = (1,1,-1,-1), e2 = (1,-1,1,-1), e3 = (1,-1,-1,1):
# a = .5 + .1·e1, b = .5 + .1·e2, c = .5 + .1·(e1 + e2 + e3). Regressing c on (1, a, b)
# leaves .1·e3: R² = 1 - 4/12 = 2/3. Regressing a on (1, b, c) leaves .05·(e1 - e3):
# R² = 1 - 2/4 = 1/2, and b likewise.
KNOWN = {"a": [0.6, 0.6, 0.4, 0.4], "b": [0.6, 0.4, 0.6, 0.4], "c": [0.8, 0.4, 0.4, 0.4]}
KNOWN_R2 = {"a": 0.5, "b": 0.5, "c": 2 / 3}


@pytest.mark.parametrize("order", ["abc", "acb", "cab", "bca"])
@pytest.mark.parametrize("params", [EXACT, LSTSQ], ids=["exact", "lstsq"])
def test_three_vms_with_known_r_squared(order: str, params: McParams) -> None:
    vms = tuple(vm(name, KNOWN[name][::-1]) for name in order)
    scores = r_squared(relative_history_columns(vms), exact=params.exact)
    assert scores is not None
    assert scores == pytest.approx([KNOWN_R2[name] for name in order], abs=1e-12)
    assert chosen_id(vms, params) == "c"


@pytest.mark.parametrize("params", [EXACT, LSTSQ], ids=["exact", "lstsq"])
def test_perfectly_correlated_pair_is_chosen(params: McParams) -> None:
    rng = np.random.default_rng(3)
    base = rng.random(12)
    vms = (
        vm("noise-1", rng.random(12)),
        vm("pair-1", base),
        vm("noise-2", rng.random(12)),
        vm("pair-2", 0.5 * base + 0.25),
    )
    scores = r_squared(relative_history_columns(vms), exact=params.exact)
    assert scores is not None
    assert scores[[1, 3]] == pytest.approx([1.0, 1.0], abs=1e-12)
    assert max(scores[0], scores[2]) < 0.9
    assert chosen_id(vms, params).startswith("pair")


def test_histories_are_relative_newest_first_and_cut_to_the_shortest() -> None:
    vms = (vm("x", [1, 2, 3, 4, 5], capacity=2.0), vm("y", [10, 20, 30], capacity=10.0))
    columns = relative_history_columns(vms)
    np.testing.assert_array_equal(columns, [[2.5, 3.0], [2.0, 2.0], [1.5, 1.0]])


def test_capacity_scaling_does_not_change_the_lstsq_choice() -> None:
    rng = np.random.default_rng(11)
    histories = rng.random((4, 20))
    plain = tuple(vm(f"v{i}", h) for i, h in enumerate(histories))
    scaled = tuple(vm(f"v{i}", h * 2500.0, capacity=2500.0) for i, h in enumerate(histories))
    assert maximum_correlation(plain, CTX, params=LSTSQ) == maximum_correlation(
        scaled, CTX, params=LSTSQ
    )


# --- ties and the running maximum ---------------------------------------------------------


@pytest.mark.parametrize("params", [EXACT, LSTSQ], ids=["exact", "lstsq"])
def test_equal_r_squared_goes_to_the_first_vm(params: McParams) -> None:
    # y = 2x: each regresses the other perfectly; commons-math gives exactly 1.0 for both.
    x, y = [0.3, 0.2, 0.1], [0.6, 0.4, 0.2]
    for first, second in ((x, y), (y, x)):
        vms = (vm("first", first), vm("second", second))
        scores = r_squared(relative_history_columns(vms), exact=params.exact)
        assert scores is not None
        if params.exact:
            assert scores[0] == scores[1] == 1.0
        assert maximum_correlation(vms, CTX, params=params) == 0


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.0, -1.0, math.nan], 0),
        ([math.nan, math.ulp(0.0), math.ulp(0.0)], 0),
        ([math.nan, 2 * math.ulp(0.0), 1e-300], 2),
        ([-math.inf, 1e-300, 0.5, 0.5], 2),
        ([0.25, math.nan, 0.75, 0.5], 2),
    ],
)
def test_running_maximum_starts_above_zero_and_keeps_the_first(
    scores: list[float], expected: int
) -> None:
    assert _first_maximum(np.asarray(scores)) == expected


# --- fallbacks ------------------------------------------------------------------------------


def test_no_vms_selects_nothing() -> None:
    assert maximum_correlation((), CTX, params=EXACT) is None


def test_single_vm_is_the_fallback_choice() -> None:
    assert maximum_correlation((vm("only", [0.1, 0.2, 0.3]),), CTX, params=EXACT) == 0
    assert r_squared(relative_history_columns((vm("only", [0.1, 0.2, 0.3]),))) is None


@pytest.mark.parametrize("params", [EXACT, LSTSQ], ids=["exact", "lstsq"])
def test_more_vms_than_samples_falls_back_to_least_ram(params: McParams) -> None:
    rams = [1740.0, 870.0, 613.0]
    newest_first = [[12, 55, 31], [70, 8, 45], [22, 91, 64]]
    # n = m = 3 is allowed (exact fit, commons-math returns R² = 1 for all: index 0) ...
    assert maximum_correlation(percent_vms(newest_first, rams), CTX, params=params) == 0
    # ... but one sample less on any VM makes n > m, and MMT picks the 613 MB VM.
    short = [col[:2] if i == 1 else col for i, col in enumerate(newest_first)]
    assert maximum_correlation(percent_vms(short, rams), CTX, params=params) == 2


def test_empty_histories_fall_back() -> None:
    vms = (vm("a", [], ram=870.0), vm("b", [], ram=613.0))
    assert maximum_correlation(vms, CTX, params=EXACT) == 1


def test_exactly_singular_design_falls_back_only_on_the_exact_path() -> None:
    # A constant history is collinear with the intercept; with four rows commons-math's QR
    # hits an exact zero on R's diagonal and throws SingularMatrixException.
    newest_first = [[50, 50, 50, 50], [10, 20, 40, 30], [30, 10, 70, 20]]
    vms = percent_vms(newest_first, rams=[1740.0, 870.0, 613.0])
    assert r_squared(relative_history_columns(vms)) is None
    assert maximum_correlation(vms, CTX, params=EXACT) == 2
    # The least-squares path fits the rank-deficient designs (minimum norm): the constant
    # VM gets no R², the other two get the squared correlation of the pair, about 0.41.
    scores = r_squared(relative_history_columns(vms), exact=False)
    assert scores is not None
    assert math.isnan(scores[0])
    pair = np.corrcoef([10, 20, 40, 30], [30, 10, 70, 20])[0, 1] ** 2
    assert scores[1:] == pytest.approx([pair, pair], abs=1e-12)
    assert maximum_correlation(vms, CTX, params=LSTSQ) in (1, 2)


def test_least_ram_fallback_prefers_the_first_on_ties() -> None:
    vms = (vm("a", [0.1], ram=870.0), vm("b", [0.2], ram=613.0), vm("c", [0.3], ram=613.0))
    assert maximum_correlation(vms, CTX, params=EXACT) == 1


def test_fallback_can_be_another_registered_policy() -> None:
    vms = (vm("busy", [0.9], ram=613.0), vm("idle", [0.1], ram=1740.0))
    params = SELECTION.params("mc", {"fallback": "mu"})
    assert SELECTION.build("mc", params)(vms, CTX) == 1
    assert SELECTION.build("mc")(vms, CTX) == 0


# --- parameters, input validation, purity --------------------------------------------------


@pytest.mark.parametrize(
    "raw", [{"fallback": "mc"}, {"fallback": "no-such-policy"}, {"threshold": 1.0}]
)
def test_bad_parameters_are_rejected(raw: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        SELECTION.params("mc", raw)


@pytest.mark.parametrize(
    "bad",
    [
        vm("zero-capacity", [0.1, 0.2], capacity=0.0),
        vm("nan-capacity", [0.1, 0.2], capacity=math.nan),
        vm("nan-sample", [0.1, math.nan]),
        vm("inf-sample", [math.inf, 0.2]),
    ],
)
def test_invalid_observations_raise_input_error(bad: VmObservation) -> None:
    with pytest.raises(InputError, match=bad.vm_id):
        maximum_correlation((vm("ok", [0.3, 0.4]), bad), CTX, params=EXACT)


def test_selection_is_deterministic_and_leaves_inputs_untouched() -> None:
    rng = np.random.default_rng(5)
    vms = tuple(vm(f"v{i}", rng.random(30)) for i in range(6))
    before = [v.cpu_history.copy() for v in vms]
    first = maximum_correlation(vms, CTX, params=EXACT)
    scores = r_squared(relative_history_columns(vms))
    again = maximum_correlation(vms, SelectionContext(seed=99), params=EXACT)
    rescored = r_squared(relative_history_columns(vms))
    assert first == again
    assert scores is not None
    assert rescored is not None
    assert hex_floats(scores) == hex_floats(rescored)
    for v, saved in zip(vms, before, strict=True):
        np.testing.assert_array_equal(v.cpu_history, saved)


def test_householder_rejects_too_few_rows() -> None:
    with pytest.raises(ValueError, match="columns"):
        householder_r_squared(np.zeros((2, 3)))


# --- agreement with a generic least-squares solver -----------------------------------------


@st.composite
def well_conditioned(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(2, 7))
    m = draw(st.integers(n + 3, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).random((m, n))


@settings(max_examples=150, deadline=None)
@given(well_conditioned())
def test_exact_path_agrees_with_lstsq(columns: np.ndarray) -> None:
    exact = householder_r_squared(columns)
    generic = r_squared(columns, exact=False)
    assert exact is not None
    assert generic is not None
    np.testing.assert_allclose(exact, generic, rtol=0.0, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(well_conditioned())
def test_both_paths_choose_alike_when_the_best_is_clear(columns: np.ndarray) -> None:
    generic = r_squared(columns, exact=False)
    assert generic is not None
    ranked = np.sort(generic)[::-1]
    vms = tuple(vm(f"v{i}", columns[::-1, i]) for i in range(columns.shape[1]))
    exact_choice = maximum_correlation(vms, CTX, params=EXACT)
    lstsq_choice = maximum_correlation(vms, CTX, params=LSTSQ)
    if ranked[0] > 1e-6 and ranked[0] - ranked[1] > 1e-6:
        assert exact_choice == lstsq_choice == int(np.argmax(generic))
    assert exact_choice is not None
    assert 0 <= exact_choice < columns.shape[1]
