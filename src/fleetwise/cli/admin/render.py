"""How the admin commands show the controller's answers: times, counts and tables.

Times are ISO 8601 in UTC to the second, date and time apart (``2025-01-06 08:00:00Z``,
as RFC 3339 allows) so that a narrow column breaks them between the two; a value
the controller does not know is ``-``. Nothing is ever cut short: identifiers stay whole
on one line and other cells fold onto more lines when the terminal is narrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

__all__ = [
    "GAP",
    "Column",
    "Grid",
    "count",
    "fields",
    "layout",
    "number",
    "table",
    "text",
    "when",
    "yes_no",
]

NONE = "-"


def when(moment: datetime | None) -> str:
    """``moment`` in UTC to the second (``2025-01-06 08:00:00Z``); ``-`` for none."""
    if moment is None:
        return NONE
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 host``, ``2 hosts``, ``0 hosts`` (``plural`` for irregular nouns)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def number(value: float | None) -> str:
    """A whole number (``8000``), ``-`` for none."""
    return NONE if value is None else f"{value:.0f}"


def text(value: object) -> str:
    """``value`` as shown in a cell: ``-`` for none or an empty string."""
    return NONE if value is None or value == "" else str(value)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


Fit = Literal["id", "word", "text"]
"""How a column may break its values: ``id`` never (identifiers, numbers); ``word``
(states, times) only when the terminal is too narrow for it to stay whole; ``text``
(names, reasons, errors) at spaces, and at the column's edge a word wider than it."""

GAP = 2
"""Spaces between two columns."""

_NARROW = 6
"""Width a breakable column keeps at least (less only if it is narrower)."""

_WORD = 12
"""A breakable column keeps its longest word whole up to this width while it can."""


@dataclass(frozen=True)
class Column:
    """A table column; a header may hold a line break (``RAM\\nMB``) to stay narrow."""

    header: str
    fit: Fit = "text"
    right: bool = False


def _longest_word(lines: Iterable[str]) -> int:
    return max((cell_len(word) for line in lines for word in line.split()), default=0)


_STEPS: tuple[dict[Fit, str], ...] = (
    {"word": "whole", "text": "words"},
    {"word": "words", "text": "words"},
    {"word": "words", "text": "narrow"},
    {"word": "narrow", "text": "narrow"},
)
"""What each breakable column keeps at least, tried in turn until the table fits:
``whole`` its widest value, ``words`` its longest word (up to ``_WORD``), ``narrow``
``_NARROW``; ``id`` columns always keep their widest value."""


def layout(
    columns: Sequence[Column], cells: Sequence[Sequence[str]], width: int
) -> list[int] | None:
    """Each column's width for a table ``width`` wide (``GAP`` between columns), or
    None when not even the identifiers and the narrowest other columns fit.

    The least widths are the first of ``_STEPS`` that fits; the breakable columns then
    share what is left, the widest giving way first.
    """
    lines = [
        [*column.header.split("\n"), *(row[i] for row in cells)] for i, column in enumerate(columns)
    ]
    natural = [max(cell_len(line) for line in column) for column in lines]
    words = [_longest_word(column) for column in lines]
    room = width - GAP * (len(columns) - 1)
    keeps = {
        "whole": natural,
        "words": [max(_NARROW, min(w, _WORD)) for w in words],
        "narrow": [_NARROW] * len(columns),
    }
    for step in _STEPS:
        least = [
            n if c.fit == "id" else min(n, keeps[step[c.fit]][i])
            for i, (c, n) in enumerate(zip(columns, natural, strict=True))
        ]
        if sum(least) <= room:
            break
    else:
        return None
    cap = max(natural, default=0)
    while cap > 0 and sum(max(f, min(n, cap)) for f, n in zip(least, natural, strict=True)) > room:
        cap -= 1
    widths = [max(f, min(n, cap)) for f, n in zip(least, natural, strict=True)]
    for i in sorted(range(len(widths)), key=lambda i: -natural[i]):
        if sum(widths) < room and widths[i] < natural[i]:
            widths[i] += 1  # what the cap left over, to the widest
    return widths


@dataclass(frozen=True)
class Grid:
    """A table laid out for the width it is printed in (see :func:`layout`), or one
    field list a row where it cannot fit; every cell is plain text, never read as
    markup; an empty table is its title alone."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.title)
        widths = layout(self.columns, self.rows, options.max_width)
        if widths is None:
            headers = [" ".join(c.header.split()) for c in self.columns]
            for row in self.rows:
                yield Text("")
                yield _pairs(zip(headers, row, strict=True))
            return
        if not self.rows:
            return
        grid = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        for column, width in zip(self.columns, widths, strict=True):
            grid.add_column(
                column.header,
                justify="right" if column.right else "left",
                width=width,
                overflow="fold",
            )
        for row in self.rows:
            grid.add_row(*(Text(cell) for cell in row))
        yield grid


def table(title: str, columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> Grid:
    """A table of ``rows`` under ``title`` (one string a cell, never read as markup)."""
    return Grid(title, tuple(columns), [tuple(row) for row in rows])


def _pairs(pairs: Iterable[tuple[str, str]]) -> Table:
    grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 3, 0, 0))
    grid.add_column("field", no_wrap=True)
    grid.add_column("value", overflow="fold")
    for key, value in pairs:
        grid.add_row(Text(key), Text(value))
    return grid


def fields(title: str, pairs: Iterable[tuple[str, str]]) -> Group:
    """The fields of one object under ``title``, a key and its value a line."""
    return Group(Text(title), _pairs(pairs))
