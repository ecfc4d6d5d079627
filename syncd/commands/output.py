"""Everything the CLI prints goes through here.

Names, subjects and addresses come from other people's mail headers: a crafted
display name must never reach a terminal raw (an ESC or OSC sequence can set
the title, clear the screen or worse, even through a pipe into ``less -R``).
So every line is cleaned of control characters, rich markup in data is
escaped, and tables fit the terminal on a TTY while staying plain (no colour,
no box drawing, nothing cut off) when the output is a pipe or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# C0 controls except TAB and LF, DEL, and the C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Inside one table cell or one value, line breaks and tabs are controls too.
_CELL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """``text`` with control characters (except newline and tab) shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", str(text))


def clean_value(text: object) -> str:
    """One value on one line: every control character, newlines included, shown as U+FFFD."""
    return _CELL_CONTROL.sub("\ufffd", "" if text is None else str(text))


def echo(text: object = "", err: bool = False) -> None:
    """Print one line (or several) with control characters neutralised."""
    click.echo(clean(text), err=err)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its header, alignment and whether long values may wrap."""

    header: str
    right: bool = False
    wrap: bool = False


def print_table(
    title: str | None, columns: Sequence[Column], rows: Iterable[Sequence[object]]
) -> None:
    """Print rows as a table: on a terminal it fits the width (values wrap, never
    vanish) and has no colour or bold under ``NO_COLOR``; in a pipe it is plain
    aligned text with no box drawing and no width limit, so ``grep`` and ``cut``
    see whole values."""
    rows = [[clean_value(v) for v in row] for row in rows]
    terminal = Console().is_terminal
    styled = terminal and not os.environ.get("NO_COLOR")
    table = Table(
        title=escape(clean_value(title)) if title else None,
        box=box.SQUARE if terminal else None,
        show_edge=terminal,
        pad_edge=terminal,
        header_style="bold" if styled else "",
        title_style="italic" if styled else "",
    )
    for col in columns:
        table.add_column(
            escape(col.header),
            justify="right" if col.right else "left",
            overflow="fold",
            no_wrap=terminal and not col.wrap,
            min_width=min(len(col.header), 12),
        )
    for row in rows:
        table.add_row(*(escape(v) for v in row))
    if terminal:
        Console(highlight=False, no_color=not styled).print(table)
        return
    widths = [max([len(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    Console(width=max(sum(widths) + 2 * len(columns), 40), highlight=False).print(table)
