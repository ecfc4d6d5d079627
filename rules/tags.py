"""Tags as the rules see them: what a tag name may be, and the tags of people.

The ``tags`` table belongs to :mod:`syncd.pipeline.tags` (``syncd tag`` /
``untag``); the rules only read it, here, to give a tagged person its tag's
cadence (``[rules.tags.NAME] cadence_days``, :mod:`rules.cadence`). The name
rule lives here, below both, so that the config's ``[rules.tags.NAME]`` keys
and the command line agree on what a tag is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import sqlite_utils

from syncd.store.db import select_in

MAX_LENGTH = 64
# Whitespace and control characters never; commas and semicolons separate tags in
# CSV cells and vCard CATEGORIES, so they are not part of a name either.
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f,;\u2028\u2029]")


def normalise_tag(raw: str) -> str:
    """``raw`` as stored: NFC, trimmed, lower case (it may still be invalid)."""
    return unicodedata.normalize("NFC", raw).strip().lower()


def tag_problem(raw: str) -> str | None:
    """Why ``raw`` (once normalised) is not a tag name, or None when it is one."""
    name = normalise_tag(raw)
    if not name:
        return "a tag name cannot be empty"
    bad = _FORBIDDEN.search(name)
    if bad:
        char = bad.group()
        what = "a space" if char == " " else f"{char!r}"
        return (
            f"tag {raw!r} contains {what}; a tag is one word without spaces, control"
            " characters, commas or semicolons (use - or _ to join words)"
        )
    if len(name) > MAX_LENGTH:
        return f"tag {raw!r} is longer than {MAX_LENGTH} characters"
    return None


def person_tags(db: sqlite_utils.Database, people: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """The tags of each of ``people`` that has any, sorted (a read of ``tags``)."""
    out: dict[int, list[str]] = {}
    for pid, tag in select_in(
        db,
        "SELECT person_id, tag FROM tags WHERE person_id IN (?...) ORDER BY person_id, tag",
        sorted(set(people)),
    ):
        out.setdefault(pid, []).append(tag)
    return {pid: tuple(tags) for pid, tags in out.items()}
