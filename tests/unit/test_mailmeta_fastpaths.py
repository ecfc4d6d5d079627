"""Every fast path of mail metadata parsing gives exactly what its slow path gives.

* ``parse_address_list``: plain comma-separated lists skip the RFC 5322 parser;
  the result must be what ``email.utils.getaddresses`` yields (lower-cased,
  invalid and duplicate addresses dropped).
* ``scan_headers``: one regex pass instead of a line loop. It must equal the
  former line scanner (kept below as the reference: stored headers and
  content hashes must not change) and agree with
  ``email.parser.BytesHeaderParser`` on the kept headers (first value,
  unfolded, stripped). Known, documented differences with the stdlib parser,
  none of which occurs in the real corpora: the scanner takes ``Name :``
  (white space before the colon) and lines led by \\v or \\f as headers, skips
  a garbage line inside the header block where the parser ends the headers
  (MissingHeaderBodySeparatorDefect), and only ends the block at ``\\n\\n``,
  ``\\r\\n\\r\\n`` or ``\\r\\r`` (not at a blank line of mixed endings such as
  ``\\n\\r\\n``).
* ``parse_date``: canonical dates skip ``parsedate_tz``; same epoch seconds, and the
  same implausible dates rejected.
* ``collapse``, ``content_hash``: same results as the regex / streaming forms.
* ``encode_recipients``, ``encode_names``: hand-built JSON, equal to ``json.dumps``;
  ``stored_summary_fields`` (workers) equals what :class:`MailSummary` computes.
* the mbox pool: workers ship marshalled tuples; the observations must equal
  the in-process scan.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import json
import re
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_tz
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncd.mail.addresses import _SIMPLE_LIST, is_valid, parse_address_list
from syncd.mail.metadata import (
    KEPT_HEADERS,
    MailSummary,
    _decode,
    _year_zero,
    collapse,
    content_hash,
    encode_headers,
    encode_names,
    encode_recipients,
    header_block,
    parse_date,
    scan_headers,
    scan_lf_block,
    stored_summary_fields,
    summary_fields,
)
from tests.support.helpers import shared_data

FAST = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

# -- references (the slow paths) --------------------------------------------------------------


def reference_addresses(values: list[str]) -> list[tuple[str, str]]:
    """``parse_address_list`` through ``getaddresses`` only."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for value in values:
        for name, addr in getaddresses([value]):
            addr = addr.strip().lower()
            if addr in seen or not is_valid(addr):
                continue
            seen.add(addr)
            out.append((name.strip(), addr))
    return out


def reference_scan_headers(raw: bytes) -> dict[str, list[str]]:
    """The former line-by-line scanner, verbatim."""
    kept = frozenset(KEPT_HEADERS)
    block = header_block(raw)
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    headers: dict[str, list[str]] = {}
    current: list[bytes] | None = None
    name = ""
    for line in block.split(b"\n"):
        if not line:
            continue
        if line[0] in (0x20, 0x09):
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            headers.setdefault(name, []).append(_decode(b"".join(current)).strip())
            current = None
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].strip().lower().decode("latin-1")
        if name in kept and not (name == "received" and "received" in headers):
            current = [line[colon + 1 :]]
    if current is not None:
        headers.setdefault(name, []).append(_decode(b"".join(current)).strip())
    return headers


def reference_parse_date(value: str) -> int | None:
    try:
        parts = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parts is None:
        return None
    try:
        epoch = calendar.timegm(parts[:9]) - (parts[9] or 0)
    except (ValueError, OverflowError):
        return None
    # implausible dates are no dates: before 1970, an offset beyond ±14 h, year 0
    if epoch < 0 or abs(parts[9] or 0) > 14 * 3600 or _year_zero(value, parts[0]):
        return None
    return epoch


def reference_content_hash(headers: dict[str, list[str]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in KEPT_HEADERS:
        for value in headers.get(name, ()):
            h.update(name.encode())
            h.update(b"\x00")
            h.update(value.encode("utf-8", "surrogatepass"))
            h.update(b"\x01")
    return h.hexdigest()


# -- real messages ----------------------------------------------------------------------------

_MESSAGES: dict[str, list[bytes]] = {}


def real_messages(corpus: str) -> list[bytes]:
    """Each message of ``../shared/data/<corpus>`` (mbox files split, From_ line dropped)."""
    if corpus not in _MESSAGES:
        root = shared_data(corpus)
        found = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if corpus != "enron":
                found.append(data)
                continue
            for raw in re.split(rb"\n(?=From )", data):
                found.append(raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw)
        _MESSAGES[corpus] = found
    return _MESSAGES[corpus]


# -- addresses --------------------------------------------------------------------------------

_FWS = st.sampled_from(["", " ", "\t", "  ", "\r\n ", "\n"])
_LOCAL = "abzAZ09._%+'=/!#$&*?^`{|}~-"
_ADDR = st.builds(
    lambda local, domain: local + "@" + domain,
    st.text(alphabet=_LOCAL, min_size=1, max_size=6),
    st.text(alphabet="azAZ09._-", min_size=1, max_size=6),
)
_PHRASE = st.lists(st.text(alphabet="azAZ09._'-", min_size=1, max_size=6), max_size=3)
_ELEMENT = st.one_of(
    st.just(""),
    _ADDR,
    st.builds(lambda words, ws, addr: ws.join(words) + ws + "<" + addr + ">", _PHRASE, _FWS, _ADDR),
)
_SIMPLE_VALUE = st.lists(
    st.builds(lambda a, e, b: a + e + b, _FWS, _ELEMENT, _FWS), min_size=1, max_size=6
).map(",".join)


@FAST
@given(st.lists(_SIMPLE_VALUE, max_size=3))
@example(["houston <.ward@enron.com>, k..allen@enron.com,\t"])
@example(["a@b, , c@d,", " <A@B>", "x.y z <q@r>"])
def test_simple_lists_take_the_fast_path_and_equal_getaddresses(values):
    assert all(_SIMPLE_LIST.fullmatch(v) for v in values)
    assert parse_address_list(values) == reference_addresses(values)


_TRICKY = "aZ09._%+'=/!#$&*?^`{|}~-@ \t\r\n,\"<>()[]:;\\\xa0\x1cé"


@FAST
@given(st.lists(st.text(alphabet=_TRICKY, max_size=30), max_size=3))
@example(["a@b@c, <a@b >, x <a@b", "@enron, 'x'@y.z"])
@example(["a@b\xa0, c@d", "\x1ca@b"])
def test_any_value_equals_getaddresses(values):
    assert parse_address_list(values) == reference_addresses(values)


def test_every_enron_address_header_equals_getaddresses():
    values = []
    for raw in real_messages("enron"):
        headers = scan_headers(raw)
        for name in ("from", "to", "cc", "bcc"):
            values.extend(headers.get(name, ()))
    assert len(values) > 7000
    fast = 0
    for value in values:
        assert parse_address_list([value]) == reference_addresses([value]), value
        fast += bool(_SIMPLE_LIST.fullmatch(value))
    assert fast / len(values) > 0.99  # the fast path is what real mail takes


def test_mailquirks_address_headers_equal_getaddresses():
    for raw in real_messages("mailquirks"):
        headers = scan_headers(raw)
        for name in ("from", "to", "cc", "bcc"):
            values = headers.get(name, [])
            assert parse_address_list(values) == reference_addresses(values), values


# -- header scanner ---------------------------------------------------------------------------


def test_scanner_equals_the_line_scanner_on_real_mail():
    compared = 0
    for corpus in ("enron", "mailquirks"):
        for raw in real_messages(corpus):
            lf = raw.replace(b"\r\n", b"\n")
            for variant in (raw, lf, lf.replace(b"\n", b"\r\n"), lf.replace(b"\n", b"\r")):
                assert scan_headers(variant) == reference_scan_headers(variant)
            compared += 1
    assert compared > 4000


_NAMES = [b"To", b"to", b"TO ", b"From", b"received", b"Received", b"Subject\t", b"\x0bCc",
          b"\x0c Bcc", b"X-To", b"List-Id", b"Date", b" To", b"\tFrom", b"", b"junk",
          b"Message-ID", b"References"]  # fmt: skip
_LINE = st.one_of(
    st.builds(lambda n, v: n + b":" + v, st.sampled_from(_NAMES), st.binary(max_size=12)),
    st.binary(max_size=12),
    st.sampled_from([b"", b" cont", b"\tcont", b"\r", b"\xc3\xa9", b"\xc3", b"\xa9", b"x:y"]),
)
_BLOCK = st.lists(_LINE, max_size=12).flatmap(
    lambda lines: st.sampled_from([b"\n", b"\r\n", b"\r"]).map(lambda eol: eol.join(lines))
)


@FAST
@given(_BLOCK)
@example(b"To: a\n\r\n b\nFrom: \xc3\n\xa9")
@example(b"Received: 1\nReceived: 2\nreceived:3\n\x0b To : x")
def test_scanner_equals_the_line_scanner_on_odd_blocks(raw):
    assert scan_headers(raw) == reference_scan_headers(raw)


@FAST
@given(_BLOCK.map(lambda raw: raw.replace(b"\r", b"\n")))
@example(b"To: a\n\nFrom: b")
@example(b"To: a\n \nFrom: b\n")
def test_a_cut_lf_header_block_scans_as_its_message(raw):
    """The mbox scanner hands over blocks without CR cut by header_block (no blank-line
    search)."""
    assert scan_lf_block(header_block(raw)) == scan_headers(raw)


def _parser_first(message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name:
            raw = value.encode("ascii", "surrogateescape")
            return _decode(raw.replace(b"\r", b"").replace(b"\n", b"")).strip()
    return None


def test_scanner_agrees_with_bytes_header_parser():
    parser = BytesHeaderParser()
    compared = 0
    for corpus in ("enron", "mailquirks"):
        for raw in real_messages(corpus):
            ours = scan_headers(raw)
            message = parser.parsebytes(raw)
            for name in KEPT_HEADERS:
                theirs = _parser_first(message, name)
                assert ours.get(name, [None])[0] == theirs, (name, raw[:300])
            compared += 1
    assert compared > 4000


# -- dates, whitespace, hashes ----------------------------------------------------------------

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH = st.sampled_from(_MONTHS)
_CANONICAL = st.builds(
    lambda dn, d, m, y, hh, mm, ss, sign, zh, zm, tail: (
        f"{dn}{d} {m} {y} {hh:02d}:{mm:02d}:{ss:02d} {sign}{zh:02d}{zm:02d}{tail}"
    ),
    st.sampled_from(["", "Mon, ", "Sun,\t", "Fri,  "]),
    st.integers(0, 99),
    _MONTH,
    st.integers(1000, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from("+-"),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["", " (PDT)", "\tmore words", " ", "x", "\xa0(PST)"]),
)
_DATE_TOKENS = ["Mon,", "mon", "Xyz,", "30", "1", "0", "Oct", "oct", "2000", "0099", "99",
                "01:14:00", "1:2", "99:99:99", "-0800", "+0000", "-0000", "PST", "(PST)",
                " ", "\t", "\xa0", ",", "-"]  # fmt: skip
_TOKENS = st.lists(st.sampled_from(_DATE_TOKENS), max_size=8)


@FAST
@given(st.one_of(_CANONICAL, _TOKENS.map(" ".join), _TOKENS.map("".join), st.text(max_size=30)))
@example("Mon, 30 Oct 2000 01:14:00 -0800 (PST)")
@example("Mon, 30 Oct 0099 01:14:00 -0800")
@example("Mon, 1 Jan 1900 00:00:00 +0000")
@example("Sat, 1 Jan 0000 00:00:00 +0000")
@example("Mon, 1 Jan 2024 10:00:00 +2300")
def test_dates_equal_parsedate_tz(value):
    assert parse_date(value) == reference_parse_date(value)


def test_every_real_date_equals_parsedate_tz():
    for corpus in ("enron", "mailquirks"):
        for raw in real_messages(corpus):
            headers = scan_headers(raw)
            values = headers.get("date", []) + [
                v.rpartition(";")[2] for v in headers.get("received", [])
            ]
            for value in values:
                assert parse_date(value) == reference_parse_date(value), value


@FAST
@given(st.text())
@example(" a \x1c\x85\u2028 b\xa0")
def test_collapse_equals_the_regex(value):
    assert collapse(value) == re.sub(r"\s+", " ", value).strip()


@FAST
@given(
    st.dictionaries(
        st.sampled_from([*KEPT_HEADERS, "x-other"]), st.lists(st.text(), min_size=1, max_size=3)
    )
)
def test_content_hash_equals_the_streaming_digest(headers):
    assert content_hash(headers) == reference_content_hash(headers)


# Any text, surrogates and control characters included.
ANY_TEXT = st.text(st.characters(blacklist_categories=()))


@FAST
@given(st.lists(ANY_TEXT), st.lists(ANY_TEXT), st.lists(ANY_TEXT))
def test_encode_recipients_equals_json(to, cc, bcc):
    expected = json.dumps({"to": to, "cc": cc, "bcc": bcc}, ensure_ascii=False)
    assert encode_recipients(to, cc, bcc) == expected


@FAST
@given(st.dictionaries(ANY_TEXT, ANY_TEXT))
def test_encode_names_equals_json(names):
    assert encode_names(names) == json.dumps(names, ensure_ascii=False, sort_keys=True)


def test_worker_stored_forms_equal_the_summary_s_own(tmp_path):
    blocks = [
        b"From: Ann <ann@x.example>\nTo: b@y.example, \xc3\xa9@y.example, B <b@y.example>\n"
        b"Cc: c@y.example\nBcc: a@y.example\nDate: Mon, 30 Oct 2000 01:14:00 -0800\n"
        b"Message-ID: <m1@x>\nSubject: hi\n",
        b'From: "J\xc3\xb6rg" <jorg@x.example>\nTo: "Q, R" <q@y.example>, z@y.example\n'
        b"Date: 1 Jan 2001 00:00:00 +0000\n",
    ]
    for block in blocks:
        headers = scan_headers(block)
        fields = stored_summary_fields(headers)
        summary = MailSummary(*summary_fields(headers))
        plain = len(summary_fields(headers))
        assert fields[:plain] == summary_fields(headers)
        assert fields[plain:] == (
            summary.stored_recipients(),
            summary.stored_names(),
            summary.logical_keys64(),
        )


# -- the mbox pool ----------------------------------------------------------------------------


def _observation_fields(o) -> tuple:
    return (
        o.folder,
        o.locator,
        o.headers,
        o.labels,
        o.signals,
        o.received_at,
        dataclasses.astuple(o.summarized()),
        o.hash,
    )


def test_pool_observations_equal_the_in_process_scan(monkeypatch):
    import connectors.mbox as mbox

    root = shared_data("enron", "allen-p")
    monkeypatch.setattr(mbox, "BATCH_BYTES", 256 * 1024)  # many chunks, several in flight

    def observations(workers: int) -> list[tuple]:
        batches = list(mbox.MboxReader([Path(root)], workers=workers).fetch({}))
        assert len(batches) > 2 * mbox.WINDOW_PER_WORKER * 2
        return [(_observation_fields(o), b.cursors) for b in batches for o in b.mail] + [
            dataclasses.astuple(q) for b in batches for q in b.quarantined
        ]

    serial = observations(1)
    assert len(serial) >= 3034
    assert observations(2) == serial


def test_batches_are_capped_and_resume_mid_chunk(tmp_path, monkeypatch):
    """A chunk is cut into batches of at most BATCH_MESSAGES; each batch's cursor resumes."""
    import connectors.mbox as mbox
    from syncd.pipeline.accounts import ensure_account, load_cursors
    from syncd.pipeline.ingest import Ingestor
    from syncd.pipeline.runner import run_reader
    from syncd.store.db import open_db

    path = shared_data("enron", "allen-p", "sent").resolve()  # cursors are keyed by real path
    monkeypatch.setattr(mbox, "BATCH_MESSAGES", 50)
    for workers in (1, 2):
        batches = list(mbox.MboxReader([path], workers=workers).fetch({}))
        assert max(len(b.mail) + len(b.quarantined) for b in batches) <= 50
        assert sum(len(b.mail) for b in batches) == 562
        offsets = [b.cursors[str(path)]["offset"] for b in batches]
        assert offsets == sorted(offsets) and batches[-1].cursors[str(path)]["done"]
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    ingestor = Ingestor(db, account)
    fetched = mbox.MboxReader([path], workers=2).fetch({})
    for _ in range(3):
        ingestor.apply(next(fetched))
    fetched.close()  # interrupted after three batches of one chunk
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 150
    stats = run_reader(db, account, mbox.MboxReader([path], workers=2))
    assert (stats.observations, stats.duplicates) == (562 - 150, 150)  # 150 known before
    assert load_cursors(db, account)[str(path)]["done"]


def test_dates_equal_parsedate_tz_when_their_parts_come_from_the_caches(monkeypatch):
    """The canonical path caches month starts, times of day and zones: a value read
    again, or read after the caches were emptied, gives what parsedate_tz gives."""
    import syncd.mail.metadata as metadata

    monkeypatch.setattr(metadata, "_DATE_CACHE", 3)  # emptied every few values
    values = [
        f"{day} {month} {year} {clock} {zone}"
        for day in (1, 31)
        for month in ("Jan", "Feb")
        for year in (1969, 1970, 2001)
        for clock in ("00:00:00", "23:59:59", "99:99:99")
        for zone in ("+0000", "-0800", "+1400", "+1401", "-9999")
    ]
    for value in values + values:
        assert parse_date(value) == reference_parse_date(value), value


def test_summaries_equal_when_their_address_values_come_from_the_cache(monkeypatch):
    """Address values are parsed once (a cache by value): a summary read again, or read
    after the cache was emptied, equals the first, control-character flaws included."""
    import syncd.mail.metadata as metadata

    monkeypatch.setattr(metadata, "ADDRESS_CACHE_SIZE", 2)  # emptied every few values
    metadata._ADDRESS_CACHE.clear()
    messages = [
        {"from": ["Ana <ana@x.example>"], "to": ["bo@y.example, ana@x.example"]},
        {"from": ["ana@x.example"], "to": ["evil\x1b@z.example, bo@y.example"]},
        {"from": ["bo@y.example"], "to": ["a@b.example", "evil\x1b@z.example"], "cc": ["c@d"]},
        {"from": ["ana@x.example"], "to": ["evil\x1b@z.example, bo@y.example"]},
    ]
    first = [summary_fields({**h, "date": ["1 Jan 2024 00:00:00 +0000"]}) for h in messages]
    again = [summary_fields({**h, "date": ["1 Jan 2024 00:00:00 +0000"]}) for h in messages]
    assert first == again
    assert first[1] == first[3]
    assert first[1][12] == ("1 address with control characters",)
    assert first[0][11] == {"ana@x.example": "Ana"}
    assert first[2][3] == ["a@b.example"]


def test_stored_recipients_equal_their_encoding_when_they_come_from_the_cache(monkeypatch):
    import syncd.mail.metadata as metadata

    monkeypatch.setattr(metadata, "ADDRESS_CACHE_SIZE", 2)
    metadata._RECIPIENTS_CACHE.clear()
    values = ["b@y.example, a@x.example", "c@z.example", "b@y.example, a@x.example"]
    headers = [
        {"from": ["me@x.example"], "to": [v], "date": ["1 Jan 2024 00:00:00 +0000"]} for v in values
    ] + [{"from": ["me@x.example"], "to": [values[0]], "cc": ["d@w.example"]}]
    for h in headers + headers:
        fields = stored_summary_fields(h)
        to, cc, bcc = fields[3], fields[4], fields[5]
        assert fields[13] == encode_recipients(sorted(to), sorted(cc), sorted(bcc))
    assert stored_summary_fields(headers[0])[13] == (
        '{"to": ["a@x.example", "b@y.example"], "cc": [], "bcc": []}'
    )


@FAST
@given(st.dictionaries(st.one_of(st.sampled_from(KEPT_HEADERS), ANY_TEXT), st.lists(ANY_TEXT)))
def test_encode_headers_equals_json(headers):
    assert encode_headers(headers) == json.dumps(headers, ensure_ascii=False)
