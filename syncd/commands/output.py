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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import click

from syncd.core.text import neutralise, one_line


def echo(text: object = "", err: bool = False) -> None:
    """Print one line (or several) with control characters neutralised."""
    click.echo(neutralise(text), err=err)


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
    # rich is loaded here, by the commands that print tables: ~25 ms of start-up that
    # every other command (a piped `syncd import`, `syncd status`) would pay for nothing.
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows = [[one_line(v) for v in row] for row in rows]
    terminal = Console().is_terminal
    styled = terminal and not os.environ.get("NO_COLOR")
    table = Table(
        title=escape(one_line(title)) if title else None,
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
    plain = plain_table(title, columns, rows, widths)
    if plain is not None:
        click.echo(plain, nl=False)
        return
    Console(width=max(sum(widths) + 2 * len(columns), 40), highlight=False).print(table)


def plain_table(
    title: str | None, columns: Sequence[Column], rows: list[list[str]], widths: list[int]
) -> str | None:
    """The text rich prints for the piped table of :func:`print_table` (no box, two spaces
    between columns, every line padded to the table's width, the title centred), built
    directly: rich's layout costs ~1 ms a row. None when rich must lay it out: non-ASCII
    text (cell widths), a value with spaces at its ends (rich trims them) or a backslash,
    a title wider than the table (rich wraps it)."""
    title = one_line(title) if title else None
    cells = [c.header for c in columns] + [v for r in rows for v in r] + [title or ""]
    if not all(v.isascii() and v.isprintable() and v == v.strip() for v in cells):
        return None
    if any("\\" in v for v in cells):  # rich prints an escaped final backslash twice
        return None
    width = sum(widths) + 2 * (len(columns) - 1)
    if title is not None and len(title) > width:
        return None
    lines = []
    if title is not None:
        left = (width - len(title)) // 2
        lines.append(" " * left + title + " " * (width - left - len(title)))
    for row in [[c.header for c in columns], *rows]:
        lines.append(
            "  ".join(
                v.rjust(w) if c.right else v.ljust(w)
                for v, w, c in zip(row, widths, columns, strict=True)
            )
        )
    return "".join(line + "\n" for line in lines)
