"""Text that came from other people's mail headers, made safe to show.

Names, subjects and addresses are chosen by whoever sent the mail: a crafted
display name can carry ESC / OSC sequences (set the terminal title, clear the
screen), BEL, NUL or a one-byte C1 CSI. Whatever syncd writes for a person to
read -- the digest's plain-text part, calendar event titles and descriptions --
goes through these functions first.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, and the C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Inside one value (a name, a subject), line breaks and tabs are controls too.
_VALUE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
REPLACEMENT = "\ufffd"


def neutralise(text: object) -> str:
    """``text`` with control characters (except newline and tab) shown as U+FFFD."""
    return _CONTROL.sub(REPLACEMENT, "" if text is None else str(text))


def one_line(text: object) -> str:
    """One value on one line: every control character, line breaks included, as U+FFFD."""
    return _VALUE_CONTROL.sub(REPLACEMENT, "" if text is None else str(text))


def drop_controls(text: object, keep_newlines: bool = True) -> str:
    """``text`` without control characters (newlines kept when ``keep_newlines``).

    For formats that have no use for a replacement mark, such as an iCalendar
    SUMMARY; carriage returns go too (a line break is ``\\n``).
    """
    s = "" if text is None else str(text)
    pattern = _CONTROL if keep_newlines else _VALUE_CONTROL
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_newlines:
        s = s.replace("\n", " ").replace("\t", " ")
    return pattern.sub("", s)


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"
