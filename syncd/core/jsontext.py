"""JSON text of acyclic values, from an encoder built once."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring
from typing import Any


def acyclic_encoder(item_separator: str, key_separator: str) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(item_separator,
    key_separator))`` for values without cycles (flat records: headers, facts).

    ``JSONEncoder.encode`` builds a C encoder on every call; this one is built once and
    skips the circular-reference checks. Without the C accelerator, the plain encoder.
    """
    plain = json.JSONEncoder(
        ensure_ascii=False, separators=(item_separator, key_separator), check_circular=False
    )
    if c_make_encoder is None:
        return plain.encode
    make = c_make_encoder(
        None,
        plain.default,
        encode_basestring,
        None,
        key_separator,
        item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return lambda value: "".join(make(value, 0))
