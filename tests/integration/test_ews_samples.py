"""The EWS emulator against Microsoft's documented requests and responses.

``../shared/data/api/ews`` holds the SOAP samples of the EWS documentation, split
into requests and responses by a rough rule (its MANIFEST.json names the operation
and the kind of each). For every sample of an operation the emulator serves, this
checks the sample itself (it parses once the documentation's quirks are undone,
and its body is the operation and kind the manifest says), then sends each
documented request to the emulator, which must answer with that operation's
response (no SOAP fault), using only the elements the documented responses use.

The documentation's quirks, undone here: the SOAP namespace written as
``https://schemas.xmlsoap.org/...`` (the real one is ``http://``), leading blank
lines and captions (``<!-- EXAMPLE REQUEST -->``) before the XML declaration, HTTP
request lines and headers above the envelope, a line break inside a namespace URI,
a request and its response in one file. Five samples are not XML at all
(mismatched tags) and are listed.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from xml.etree import ElementTree as ET

import pytest

from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.server import OPERATIONS
from tests.support.ews_emulator.testing import ME, add_event, fill_mailbox
from tests.support.helpers import shared_data

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
# The manifest's name for the operations the emulator serves (GetUserAvailability's
# request element is GetUserAvailabilityRequest; its response GetUserAvailabilityResponse).
SERVED = set(OPERATIONS) | {"GetUserAvailability"}
MALFORMED = {  # mismatched tags in the documentation itself
    "response/GetItem/getitem-operation-email-message__1.xml",
    "request/GetServerTimeZones/getservertimezones-operation__0.xml",
    "request/GetServerTimeZones/getservertimezones-operation__1.xml",
    "response/GetServerTimeZones/getservertimezones-operation__2.xml",
    "response/GetServerTimeZones/getservertimezones-operation__3.xml",
}


COMBINED = {  # the request and the response in one file (<!-- EXAMPLE REQUEST --> ...)
    "response/FindItem/aggregateon__3.xml",
}


BAD_VERSION = {  # RequestServerVersion misspelt in the documentation (Exchange207_SP1)
    "request/GetItem/how-to-get-attachments-by-using-ews-in-exchange__1.xml",
    "request/CreateItem/how-to-send-email-messages-by-using-ews-in-exchange__7.xml",
}


def _unbroken(match: re.Match) -> str:
    return match[1] + re.sub(r"\s", "", match[2]) + '"'


def clean(text: str) -> str:
    """A sample with the documentation's quirks undone (the first envelope of a file that
    holds two)."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S).lstrip("\ufeff \t\r\n")
    if re.match(r"(POST|GET) \S+ HTTP/1\.1", text):
        text = text[text.find("<") :]
    second = text.find("<?xml", 1)
    if second > 0:
        text = text[:second]
    text = re.sub(
        r'(xmlns(?::\w+)?=")([^"]*)"', lambda m: m[1] + re.sub(r"\s", "", m[2]) + '"', text
    )
    return text.replace("https://schemas.xmlsoap.org/soap/envelope/", SOAP)


def samples() -> list[dict]:
    """The manifest entries of the served operations."""
    root = shared_data("api", "ews")
    manifest = json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))
    return [dict(f, path=root / f["file"]) for f in manifest["files"] if f["op"] in SERVED]


def body_op(envelope: ET.Element) -> str:
    """The local name of the SOAP body's first element."""
    body = envelope.find(f"{{{SOAP}}}Body")
    assert body is not None and len(body), "no SOAP body"
    return body[0].tag.split("}")[-1]


def test_each_sample_is_what_the_manifest_says():
    entries = samples()
    assert len(entries) > 150
    broken: set[str] = set()
    mislabeled: set[str] = set()
    combined: set[str] = set()
    for entry in entries:
        raw = entry["path"].read_text(encoding="utf-8")
        if raw.count("<?xml") > 1:
            combined.add(entry["file"])
        text = clean(raw)
        try:
            envelope = ET.fromstring(text.encode())
        except ET.ParseError:
            broken.add(entry["file"])
            continue
        name = body_op(envelope)
        kind = "response" if name.endswith("Response") else "request"
        if kind != entry["kind"] and entry["file"] not in combined:
            mislabeled.add(entry["file"])
        op = name.removesuffix("Response").removesuffix("Request")
        assert op == entry["op"].removesuffix("Request"), (entry["file"], name)
    assert broken == MALFORMED
    assert combined == COMBINED
    assert not mislabeled, mislabeled


def _post(emu: EwsEmulator, body: bytes) -> tuple[int, bytes]:
    token = base64.b64encode(f"{emu.username}:{emu.password}".encode()).decode()
    request = urllib.request.Request(
        emu.url,
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _message_children(envelope: ET.Element) -> dict[str, set[str]]:
    """Per response message class (Success/Error...), the child elements it carries."""
    out: dict[str, set[str]] = {}
    body = envelope.find(f"{{{SOAP}}}Body")
    for msg in body.iter() if body is not None else []:
        if msg.tag.endswith("ResponseMessage") and msg.get("ResponseClass"):
            names = {c.tag.split("}")[-1] for c in msg}
            out.setdefault(msg.get("ResponseClass", ""), set()).update(names)
    return out


@pytest.fixture
def emu():
    server = EwsEmulator(address=ME).start()
    fill_mailbox(server, 8)
    add_event(server, "standing", 1_717_405_200)
    yield server
    server.stop()


def test_documented_requests_are_answered_in_the_documented_shape(emu):
    entries = samples()
    documented: dict[str, set[str]] = {}
    for entry in entries:
        if entry["kind"] != "response" or entry["file"] in COMBINED:
            continue
        try:
            envelope = ET.fromstring(clean(entry["path"].read_text(encoding="utf-8")).encode())
        except ET.ParseError:
            continue
        for names in _message_children(envelope).values():
            documented.setdefault(body_op(envelope), set()).update(names)
    answered = 0
    bad_version: set[str] = set()
    for entry in entries:
        if entry["kind"] != "request" or entry["file"] in MALFORMED | COMBINED:
            continue
        status, out = _post(emu, clean(entry["path"].read_text(encoding="utf-8")).encode())
        if status == 500 and b"ErrorInvalidServerVersion" in out:
            bad_version.add(entry["file"])  # as Exchange answers a misspelt version
            continue
        assert status == 200, (entry["file"], status, out[:300])
        envelope = ET.fromstring(out)
        name = body_op(envelope)
        op = entry["op"].removesuffix("Request")
        assert name == f"{op}Response", (entry["file"], name)
        success = _message_children(envelope).get("Success", set())
        if success and name in documented:
            extra = success - documented[name]
            assert not extra, (entry["file"], extra)
        answered += 1
    assert bad_version == BAD_VERSION
    assert answered >= 60
