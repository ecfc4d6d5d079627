"""Piped tables are written directly (:func:`syncd.commands.output.plain_table`), byte for
byte what rich prints for them; rich still lays out whatever it must (non-ASCII text,
a title wider than the table)."""

from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.commands import output
from syncd.commands.output import Column, print_table

text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
columns = st.lists(
    st.builds(
        Column,
        st.text(alphabet="abcdefgh ()", min_size=1, max_size=14),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def _printed(title, cols, rows, plain: bool) -> str:
    out = io.StringIO()
    original = output.plain_table
    if not plain:
        output.plain_table = lambda *a: None
    try:
        with contextlib.redirect_stdout(out):
            print_table(title, cols, rows)
    finally:
        output.plain_table = original
    return out.getvalue()


@given(cols=columns, data=st.data(), title=st.none() | text)
@settings(max_examples=300, deadline=None)
def test_plain_table_equals_rich(cols, data, title):
    rows = data.draw(
        st.lists(st.tuples(*[text | st.integers(-5, 10**6) for _ in cols]), max_size=8)
    )
    assert _printed(title, cols, rows, plain=True) == _printed(title, cols, rows, plain=False)


def test_rich_lays_out_non_ascii_and_wide_titles():
    cols = [Column("id", right=True), Column("name", wrap=True)]
    assert output.plain_table(None, cols, [["1", "José"]], [2, 4]) is None
    assert output.plain_table("a title wider than it", cols, [["1", "x"]], [2, 4]) is None
    assert output.plain_table(None, cols, [["1", " x"]], [2, 4]) is None
    assert (
        output.plain_table("fits", cols, [["1", "x"]], [2, 4]) == "  fits  \nid  name\n 1  x   \n"
    )
