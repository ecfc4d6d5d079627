"""The digest's small chart: touches per week, as bars that every mail client draws.

No images and no SVG (Gmail and Outlook drop or block them): the HTML bars are
table cells with a fixed height and a background colour, and the plain-text
version draws them with block characters.
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 80  # pixels of the tallest bar
TEXT_WIDTH = 30  # characters of the longest text bar


@dataclass(frozen=True, slots=True)
class Bar:
    """One week's bar: its label, value, pixel height and whether it is the current week."""

    label: str
    value: int
    height: int
    current: bool


def bars(values: list[tuple[str, int]], height: int = BAR_HEIGHT) -> list[Bar]:
    """Bars for ``(label, value)`` pairs, oldest first; the last one is the current week."""
    top = max((v for _, v in values), default=0)
    out = []
    for i, (label, value) in enumerate(values):
        h = round(height * value / top) if top else 0
        if value and h < 2:
            h = 2  # a non-zero week stays visible
        out.append(Bar(label, value, h, i == len(values) - 1))
    return out


def text_chart(values: list[tuple[str, int]], width: int = TEXT_WIDTH) -> list[str]:
    """Horizontal text bars, one line per week: ``W19  ████████ 34``."""
    top = max((v for _, v in values), default=0)
    label_width = max((len(label) for label, _ in values), default=0)
    lines = []
    for label, value in values:
        n = round(width * value / top) if top else 0
        if value and not n:
            n = 1
        lines.append(f"{label.ljust(label_width)}  {'█' * n}{' ' if n else ''}{value}")
    return lines
