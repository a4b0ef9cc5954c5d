"""Host power models: SPECpower tables, interpolation, vectorised forms, linear model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.power import (
    POWER_MODELS,
    LinearPowerModel,
    TablePowerModel,
    interpolate_tables,
    power_model,
)
from fleetwise.errors import UnknownNameError


def table(name: str) -> TablePowerModel:
    model = power_model(name)
    assert isinstance(model, TablePowerModel)
    return model


G4 = table("hp-ml110-g4")
G5 = table("hp-ml110-g5")
TABLES = [m for m in POWER_MODELS.values() if isinstance(m, TablePowerModel)]
LINEAR = power_model("linear-450-270")

# Inside [0, 1], plus the awkward values a sum of tenths produces (0.1 + 0.2 = 0.30000000000000004).
utilisations = st.one_of(
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    st.integers(0, 10).map(lambda i: i / 10),
    st.integers(0, 10).map(lambda i: 0.1 * i),
    st.integers(0, 1000).map(lambda i: i / 1000),
)


def test_bundled_cloudsim_tables() -> None:
    # SPECpower figures of the CloudSim PlanetLab runner (W at 0 %, 10 %, …, 100 %).
    assert list(G4.watts) == [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]
    assert list(G5.watts) == [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]
    assert (G4.idle_w, G4.peak_w, G5.idle_w, G5.peak_w) == (86, 117, 93.7, 135)
    assert {m.name: (m.watts[0], m.watts[10]) for m in TABLES} == {
        "hp-ml110-g4": (86, 117),
        "hp-ml110-g5": (93.7, 135),
        "hp-ml110-g3": (105, 169),
        "ibm-x3250-x3470": (41.6, 113),
        "ibm-x3250-x3480": (42.3, 113),
        "ibm-x3550-x5670": (66, 247),
        "ibm-x3550-x5675": (58.4, 222),
    }


@pytest.mark.parametrize("model", TABLES, ids=lambda m: m.name)
def test_ten_percent_points_are_the_table_values(model: TablePowerModel) -> None:
    for i in range(11):
        assert model.power(i / 10) == model.watts[i]
        assert model.power(0.1 * i) == pytest.approx(model.watts[i], abs=1e-9)


@pytest.mark.parametrize(
    ("model", "u", "watts"),
    [
        (G4, 0.25, 94.3),  # 92.6 + (96 − 92.6)/10 · 5 = 92.6 + 1.7
        (G4, 0.95, 115.5),  # 114 + (117 − 114)/10 · 5
        (G4, 0.02, 86.68),  # 86 + (89.4 − 86)/10 · 2
        (G5, 0.05, 95.35),  # 93.7 + (97 − 93.7)/10 · 5
        (G5, 0.55, 118.5),  # 116 + (121 − 116)/10 · 5
        (G5, 0.375, 108.75),  # 105 + (110 − 105)/10 · 7.5
        (G4, 1000 / 3720, 94.939784946),  # 92.6 + 0.34 · (26.8817… − 20)
    ],
)
def test_interpolation_between_points_by_hand(
    model: TablePowerModel, u: float, watts: float
) -> None:
    assert model.power(u) == pytest.approx(watts, rel=1e-10)


@pytest.mark.parametrize("u", [-1e-12, -0.05, 1.0000001, 1.05, 2.0])
def test_out_of_range_utilisation_raises(u: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        G4.power(u)
    with pytest.raises(ValueError, match="outside"):
        LINEAR.power(u)


@pytest.mark.parametrize("model", TABLES, ids=lambda m: m.name)
@given(st.lists(utilisations, min_size=1, max_size=50))
def test_power_array_equals_power_bit_for_bit(model: TablePowerModel, us: list[float]) -> None:
    got = model.power_array(np.asarray(us))
    assert got.tolist() == [model.power(u) for u in us]


@given(st.lists(st.tuples(st.sampled_from(TABLES), utilisations), min_size=1, max_size=50))
def test_interpolate_tables_equals_power_bit_for_bit(
    pairs: list[tuple[TablePowerModel, float]],
) -> None:
    tables = np.asarray([m.watts for m, _ in pairs], dtype=np.float64)
    us = np.asarray([u for _, u in pairs])
    assert interpolate_tables(tables, us).tolist() == [m.power(u) for m, u in pairs]


# Without a range check a negative utilisation would read table index −1 (another
# host's row) and a value in (1, 1.1) index 11: both must raise instead.
@pytest.mark.parametrize("u", [-0.05, 1.05])
def test_power_array_rejects_out_of_range_utilisation(u: float) -> None:
    with pytest.raises(ValueError):
        G4.power_array(np.asarray([0.5, u]))


@pytest.mark.parametrize("u", [-0.05, 1.05])
def test_interpolate_tables_rejects_out_of_range_utilisation(u: float) -> None:
    tables = np.asarray([G4.watts, G5.watts], dtype=np.float64)
    with pytest.raises(ValueError):
        interpolate_tables(tables, np.asarray([u, u]))


def test_linear_model_by_hand() -> None:
    # Fan et al. with 270 W idle, 450 W busy: P(u) = 270 + 180·u; 10.4 W asleep.
    assert LINEAR.power(0.0) == 270.0
    assert LINEAR.power(1.0) == 450.0
    assert LINEAR.power(0.8) == pytest.approx(414.0)  # the Neat energy estimate's P(0.8)
    assert LINEAR.power(0.25) == pytest.approx(315.0)
    assert LINEAR.sleep_w == 10.4
    us = np.asarray([0.0, 0.1, 0.25, 0.8, 1.0])
    assert LINEAR.power_array(us).tolist() == [LINEAR.power(u) for u in us]


def test_custom_linear_model() -> None:
    model = LinearPowerModel("small", idle_w=50.0, peak_w=60.0, sleep_w=5.0)
    assert model.power(0.3) == pytest.approx(53.0)


def test_a_table_needs_eleven_values() -> None:
    with pytest.raises(ValueError, match="11 values"):
        TablePowerModel("short", (1.0,) * 10)


def test_unknown_power_model_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="hp-ml110-g4") as info:
        power_model("hp-dl380")
    assert "hp-dl380" in str(info.value)
    assert "linear-450-270" in str(info.value)
