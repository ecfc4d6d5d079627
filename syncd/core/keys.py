"""Short content keys: 64-bit hashes used where only equality matters."""

from __future__ import annotations

import hashlib

_BLAKE2B_8 = hashlib.blake2b(digest_size=8)  # copied, never updated: cheaper than a new one


def key64(text: str) -> int:
    """A 64-bit key for ``text`` (a signed SQLite integer): the first 8 bytes of its BLAKE2b.

    Used where only equality matters and a short key keeps an index small
    (logical-message keys): a collision among a million keys has a
    probability of about 3e-8.
    """
    digest = _BLAKE2B_8.copy()
    digest.update(text.encode("utf-8", "surrogatepass"))
    return int.from_bytes(digest.digest(), "big", signed=True)
