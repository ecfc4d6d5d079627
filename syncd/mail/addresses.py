"""Email address parsing and matching, per design.md §2 rule 1.

An address counts only with exactly one ``@`` and a non-empty local part and
domain, and no control characters (NUL, ESC, DEL, C1 ...: such an "address"
is an artefact or an attack, never a person). Addresses are lower-cased. For
gmail.com / googlemail.com, dots and a ``+tag`` in the local part are ignored
when matching a person: that is the *match key*; the stored address keeps its
form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# A header value that is a plain comma-separated list, each element empty, a
# bare address, or ``<address>`` after an optional phrase of plain atoms
# (``houston <.ward@enron.com>``, common in the Enron export): parsed without
# the (slow) RFC 5322 parser, with results identical to getaddresses() once
# invalid and empty addresses are dropped (tests/test_mailmeta_fastpaths.py
# checks this). Possessive quantifiers keep the match linear on long lists.
_FWS = r"[ \t\r\n]"
_ADDR = r"[A-Za-z0-9._%+'=/!#$&*?^`{|}~-]++@[A-Za-z0-9._-]++"
_ATOM = r"[A-Za-z0-9._'-]++"
_ELEMENT = rf"{_FWS}*+(?:{_ADDR}|(?:{_ATOM}(?:{_FWS}++{_ATOM})*+{_FWS}*+)?+<{_ADDR}>)?+{_FWS}*+"
_SIMPLE_LIST = re.compile(rf"{_ELEMENT}(?:,{_ELEMENT})*+")
_FWS_CHARS = " \t\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (C0, DEL or C1)."""
    return _CONTROL.search(text) is not None


def is_valid(address: str) -> bool:
    """True when ``address`` has exactly one ``@`` with text on both sides and no
    control character."""
    if address.count("@") != 1:
        return False
    local, _, domain = address.partition("@")
    return bool(local) and bool(domain) and not has_control(address)


def match_key(address: str) -> str:
    """The key under which ``address`` (lower-cased, valid) matches a person."""
    local, _, domain = address.partition("@")
    if domain in GMAIL_DOMAINS:
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return address


def parse_address_list(
    values: Iterable[str], rejected: list[str] | None = None
) -> list[tuple[str, str]]:
    """Parse header values into ``(display name, address)`` pairs.

    Addresses are lower-cased and stripped; invalid ones are dropped. Order is
    kept and duplicates removed (the first display name wins). Dropped
    addresses holding a control character are appended to ``rejected`` (when
    given), so the caller can count them rather than lose them silently.
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for value in values:
        if _SIMPLE_LIST.fullmatch(value):
            # The pattern guarantees one "@" with text on both sides in every
            # address, so only empty elements need dropping.
            for part in value.split(","):
                part = part.strip(_FWS_CHARS)
                if not part:
                    continue
                if part[-1] == ">":
                    phrase, _, addr = part[:-1].partition("<")
                    name = " ".join(phrase.split())
                    addr = addr.lower()
                else:
                    name, addr = "", part.lower()
                if addr not in seen:
                    seen.add(addr)
                    out.append((name, addr))
            continue
        for name, addr in getaddresses([value]):
            addr = addr.strip().lower()
            if addr in seen or not is_valid(addr):
                if rejected is not None and addr not in seen and has_control(addr):
                    seen.add(addr)
                    rejected.append(addr)
                continue
            seen.add(addr)
            out.append((name.strip(), addr))
    return out


def local_part_without_tag(address: str) -> str:
    """The local part of ``address`` before any ``+tag``."""
    return address.partition("@")[0].split("+", 1)[0]
