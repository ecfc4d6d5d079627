"""Threads of the mail exchanged with one person, from headers only.

Two messages belong to one thread when they share a ``thread_root``, when one
names the other in In-Reply-To / References, or (the fallback for mail without
references, such as most of Enron) when their subjects match once reply and
forward prefixes are stripped. Threads are always per counterpart, so equal
subjects with different people never join.
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.base import Mail
from syncd.mail.subjects import normalize_subject, reply_subject


def is_reply(mail: Mail) -> bool:
    """Whether ``mail`` continues a conversation rather than starting one (forwards start one)."""
    return bool(mail.in_reply_to or mail.thread_root or reply_subject(mail.subject))


def group_threads(mails: Iterable[Mail]) -> list[list[Mail]]:
    """``mails`` grouped into threads, each oldest first (inbound before outbound on ties)."""
    items = list(mails)
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, mail in enumerate(items):
        tokens = []
        subject = normalize_subject(mail.subject)
        if subject:
            tokens.append(("s", subject))
        for ref in (mail.thread_root, mail.in_reply_to, *mail.msgids):
            if ref:
                tokens.append(("r", ref))
        for token in tokens:
            j = owner.setdefault(token, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[Mail]] = {}
    for i, mail in enumerate(items):
        groups.setdefault(find(i), []).append(mail)
    out = [sorted(g, key=lambda m: (m.at, not m.inbound, m.ref)) for g in groups.values()]
    out.sort(key=lambda g: (g[0].at, g[0].ref))
    return out
