"""Email address parsing and matching, per design.md §2 rule 1.

An address counts only with exactly one ``@`` and a non-empty local part and
domain. Addresses are lower-cased. For gmail.com / googlemail.com, dots and a
``+tag`` in the local part are ignored when matching a person: that is the
*match key*; the stored address keeps its form.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# A header value made only of bare, comma-separated addresses: parsed without
# the (slow) RFC 5322 parser, with results identical to getaddresses().
_SIMPLE_LIST = re.compile(r"[A-Za-z0-9._%+'=-]+@[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._%+'=-]+@[A-Za-z0-9._-]+)*")


def is_valid(address: str) -> bool:
    """True when ``address`` has exactly one ``@`` with text on both sides."""
    if address.count("@") != 1:
        return False
    local, _, domain = address.partition("@")
    return bool(local) and bool(domain)


def match_key(address: str) -> str:
    """The key under which ``address`` (lower-cased, valid) matches a person."""
    local, _, domain = address.partition("@")
    if domain in GMAIL_DOMAINS:
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return address


def parse_address_list(values: list[str]) -> list[tuple[str, str]]:
    """Parse header values into ``(display name, address)`` pairs.

    Addresses are lower-cased and stripped; invalid ones are dropped. Order is
    kept and duplicates removed (the first display name wins).
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for value in values:
        stripped = value.strip()
        if _SIMPLE_LIST.fullmatch(stripped):
            pairs = [("", part.strip()) for part in stripped.split(",")]
        else:
            pairs = getaddresses([value])
        for name, addr in pairs:
            addr = addr.strip().lower()
            if addr in seen or not is_valid(addr):
                continue
            seen.add(addr)
            out.append((name.strip(), addr))
    return out


def local_part_without_tag(address: str) -> str:
    """The local part of ``address`` before any ``+tag``."""
    return address.partition("@")[0].split("+", 1)[0]
