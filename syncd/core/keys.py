"""Short content keys: 64-bit hashes used where only equality matters."""

from __future__ import annotations

import hashlib


def key64(text: str) -> int:
    """A 64-bit key for ``text`` (a signed SQLite integer): the first 8 bytes of its BLAKE2b.

    Used where only equality matters and a short key keeps an index small
    (logical-message keys): a collision among a million keys has a
    probability of about 3e-8.
    """
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
