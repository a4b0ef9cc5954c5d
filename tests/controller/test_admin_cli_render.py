"""How the admin commands lay out tables: identifiers whole at any width, plain text
cells, counts in words, times in UTC."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from fleetwise.cli.admin.migrations import parse_since
from fleetwise.cli.admin.render import GAP, Column, count, layout, table, when
from fleetwise.errors import InputError

UUID = "00000000-0000-0000-0000-000000000001"
COLUMNS = (
    Column("id", "id", right=True),
    Column("VM", "id"),
    Column("state", "word"),
    Column("started", "word"),
    Column("error"),
)


def printed(renderable: object, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False).print(renderable)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_words_stay_whole_while_the_text_columns_still_fit() -> None:
    cells = [("12", UUID, "succeeded", "2025-01-06 08:00:00Z", "a rather long error message")]
    assert layout(COLUMNS, cells, 200) == [2, 36, 9, 20, 27]
    wide = layout(COLUMNS, cells, 80)
    assert wide is not None and wide[:3] == [2, 36, 9] and wide[3] < 20
    assert sum(wide) + GAP * (len(COLUMNS) - 1) <= 80


def test_a_table_too_narrow_for_its_identifiers_becomes_field_lists() -> None:
    cells = [("12", UUID, "pending", "-", "-")]
    assert layout(COLUMNS, cells, 40) is None
    lines = printed(table("1 thing", COLUMNS, cells), 50)
    assert lines[0] == "1 thing"
    assert f"VM        {UUID}" in lines


@given(width=st.integers(50, 200), error=st.text(alphabet="ab c", max_size=80))
def test_identifiers_are_never_cut(width: int, error: str) -> None:
    cells = [(str(n), UUID.replace("1", str(n)), "ongoing", "2025-01-06 08:00:00Z", error)
             for n in range(1, 4)]  # fmt: skip
    lines = printed(table("3 things", COLUMNS, cells), width)
    assert max(len(line) for line in lines) <= width
    for _, uuid, *_ in cells:
        assert any(uuid in line for line in lines)


def test_cells_are_plain_text() -> None:
    cells = [("1", UUID, "[bold]x[/bold]", "-", "[red]:boom:")]
    lines = printed(table("t", COLUMNS, cells), 120)
    assert "[bold]x[/bold]" in lines[-1] and "[red]:boom:" in lines[-1]


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [(0, "host", None, "0 hosts"), (1, "host", None, "1 host"), (2, "VM", None, "2 VMs"),
     (1, "action", None, "1 action"), (3, "body", "bodies", "3 bodies")],
)  # fmt: skip
def test_counts_agree_in_number(n: int, noun: str, plural: str | None, expected: str) -> None:
    assert count(n, noun, plural) == expected


def test_times_are_shown_in_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=1))
    assert when(datetime(2025, 1, 6, 9, 0, 1, 999_999, tzinfo=paris)) == "2025-01-06 08:00:01Z"
    assert when(None) == "-"


NOW = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("7d", NOW - timedelta(days=7)),
        ("2025-01-05T10:00:00", datetime(2025, 1, 5, 10, tzinfo=UTC)),
        ("2025-01-05 10:00:00Z", datetime(2025, 1, 5, 10, tzinfo=UTC)),
        ("2025-01-05T11:00:00+01:00", datetime(2025, 1, 5, 10, tzinfo=UTC)),
    ],
)
def test_since_takes_a_time_or_an_age(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "5 weeks", "-3h", "", "99999999999d"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(InputError, match="--since"):
        parse_since(text, NOW)
