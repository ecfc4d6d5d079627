"""Hypothesis properties of ingest: order independence, idempotence, copy counting."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.core.timeutil import parse_instant
from syncd.mail.addresses import parse_address_list
from syncd.pipeline.local_import import import_paths
from syncd.report.people import compute_people
from tests.support.helpers import message, write_mbox

ME = "me@corp.example"
OTHERS = [
    "ana@x.example",
    "Bo B <bo@y.example>",
    "Cy.D+tag@gmail.com",
    "Cy D <cyd@googlemail.com>",
    "Dee <dee@z.example>",
    "Dee Z <dee@z.example>",
]
NOW = parse_instant("2030-01-01")
BASE = datetime(2024, 1, 1, tzinfo=UTC)

FOLDERS = st.sampled_from(["inbox", "sent", "archive", "trash", "Drafts"])
mail_spec = st.fixed_dictionaries(
    {
        "outbound": st.booleans(),
        "other": st.sampled_from(OTHERS),
        "cc": st.lists(st.sampled_from(OTHERS), max_size=2),
        "day": st.integers(0, 30),
        "subject": st.sampled_from(["a", "b", "Re: a"]),
        "mid": st.sampled_from([None, "<1@x>", "<2@x>", "<3@x>", "<4@x>", "<5@x>"]),
        "bulk": st.booleans(),
        "folders": st.lists(FOLDERS, min_size=1, max_size=3, unique=True),
    }
)


def _raw(spec: dict) -> bytes:
    sender, to = (ME, spec["other"]) if spec["outbound"] else (spec["other"], ME)
    return message(
        sender=sender,
        to=to,
        cc=spec["cc"],
        date=BASE + timedelta(days=spec["day"]),
        subject=spec["subject"],
        message_id=spec["mid"] or "",
        extra={"Precedence": "bulk"} if spec["bulk"] else None,
    )


def _figures(home: Path) -> dict[str, tuple]:
    ctx = Context(Home(home), NOW)
    return {
        email: (
            p.touches_in,
            p.touches_out,
            p.meetings,
            p.first_touch,
            p.last_touch,
            tuple(sorted(p.emails)),
            p.name,
        )
        for p in compute_people(ctx.db, NOW)
        for email in p.emails
    }


def _import(home: Path, paths: list[Path]) -> None:
    ctx = Context(Home(home), NOW)
    for path in paths:
        import_paths(ctx.db, ctx.home, "mbox", [path], [ME], now=ctx.now)


def _layout(root: Path, specs: list[dict], reverse: bool) -> list[Path]:
    """Write each spec's copies into its folders; order of messages within folders varies."""
    folders: dict[str, list[bytes]] = {}
    ordered = list(reversed(specs)) if reverse else specs
    for spec in ordered:
        for folder in spec["folders"]:
            folders.setdefault(folder, []).append(_raw(spec))
    paths = [write_mbox(root / "mail" / name, msgs) for name, msgs in sorted(folders.items())]
    return list(reversed(paths)) if reverse else paths


# SYNCD_HYPOTHESIS_EXAMPLES=500 for a deeper run than CI's.
SETTINGS = settings(
    max_examples=int(os.environ.get("SYNCD_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(st.lists(mail_spec, min_size=1, max_size=12))
def test_import_order_does_not_change_results(specs):
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        _import(Path(a) / "home", _layout(Path(a), specs, reverse=False))
        _import(Path(b) / "home", _layout(Path(b), specs, reverse=True))
        assert _figures(Path(a) / "home") == _figures(Path(b) / "home")


@SETTINGS
@given(st.lists(mail_spec, min_size=1, max_size=12))
def test_reimport_is_a_noop(specs):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = _layout(root, specs, reverse=False)
        _import(root / "home", paths)
        before = _figures(root / "home")
        # Re-import, and import the same content again from copies of the files.
        _import(root / "home", paths)
        copies = []
        for path in paths:
            target = root / "again" / path.name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(path.read_bytes())
            copies.append(target)
        _import(root / "home", copies)
        assert _figures(root / "home") == before


@SETTINGS
@given(mail_spec, st.integers(1, 6))
def test_a_message_copied_to_n_folders_counts_once(spec, n):
    spec = {**spec, "bulk": False, "outbound": False, "cc": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = _raw(spec)
        paths = [write_mbox(root / "mail" / f"folder{i}", [raw]) for i in range(n)]
        _import(root / "home", paths)
        figures = _figures(root / "home")
        address = parse_address_list([spec["other"]])[0][1]
        assert figures[address][:2] == (1, 0)
