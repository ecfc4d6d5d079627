"""Subjects as mail clients thread them: reply and forward prefixes in several languages
(``Re:``, ``AW:``, ``SV:``, ``Fwd:``, ``WG:``, ``TR:``, ``RV:`` ..., with counters such as
``Re[2]:`` and full-width colons) stripped before subjects are compared."""

from __future__ import annotations

import re

_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|fw|fwd|wg|tr|rv)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.I
)
_REPLY = re.compile(r"^\s*(?:re|aw|sv|antw)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]", re.I)
_SPACE = re.compile(r"\s+")


def normalize_subject(subject: str | None) -> str:
    """The subject without Re:/Fwd:-style prefixes, whitespace collapsed, lower-cased."""
    text = _PREFIX.sub("", subject or "")
    return _SPACE.sub(" ", text).strip().lower()


def reply_subject(subject: str | None) -> bool:
    """Whether a subject marks a reply (``Re:``, ``AW:``, ``SV:`` ...; not ``Fwd:``)."""
    return bool(_REPLY.match(subject or ""))


def prefixed_subject(subject: str | None) -> bool:
    """Whether a subject carries any reply or forward prefix."""
    return bool(_PREFIX.match(subject or ""))
