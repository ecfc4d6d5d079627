"""What the dashboard's buttons do: the same functions the CLI commands call.

Done / dismiss / snooze are ``syncd done|dismiss|snooze FLAG-ID``; "log a touch"
is ``syncd log``; a kind is ``syncd kind``; ignore is ``syncd ignore ADDR``; a tier
pin is ``syncd people tier``; merge and split are ``syncd merge`` / ``syncd split``; tags
are ``syncd tag`` / ``untag``. Each returns one
line saying what happened, in the CLI's words.
"""

from __future__ import annotations

import re

from rules.flags import Flag, get_flag, set_status, snooze
from rules.tiers import ALL_TIERS
from syncd.core.errors import UserError
from syncd.core.timeutil import iso
from syncd.mail.kinds import KINDS
from syncd.pipeline.identity import people_info, pin_tier, resolve_person
from syncd.pipeline.kinds import ignore, set_kind
from syncd.pipeline.manual import log_touch
from syncd.pipeline.merging import merge as merge_people
from syncd.pipeline.merging import split
from syncd.pipeline.tags import add_tags, remove_tags
from syncd.web.context import WebContext

DAY = 86400
MAX_SNOOZE_DAYS = 366
MAX_NOTE = 500


def _open_flag(wc: WebContext, flag_id: str, now: int) -> Flag:
    flag = get_flag(wc.db, flag_id)
    if flag is None:
        raise UserError(f"no flag {flag_id}")
    state = flag.state(now)
    if state not in ("shown", "snoozed"):
        raise UserError(f"flag {flag_id} is {state}")
    return flag


def close_flag(wc: WebContext, flag_id: str, action: str, now: int) -> tuple[Flag, str]:
    """``syncd done FLAG`` (``action`` done) or ``syncd dismiss FLAG`` (dismiss)."""
    if action not in ("done", "dismiss"):
        raise UserError(f"unknown action {action!r}")
    wc.refresh(now)
    flag = _open_flag(wc, flag_id, now)
    set_status(wc.db, [flag], action, now)
    verb = "done" if action == "done" else "dismissed"
    return get_flag(wc.db, flag_id) or flag, f"{verb}: {flag_id}"


def snooze_flag(wc: WebContext, flag_id: str, days: str, now: int) -> tuple[Flag, str]:
    """``syncd snooze FLAG --until`` now + ``days`` days."""
    if not days.isdigit() or not 1 <= int(days) <= MAX_SNOOZE_DAYS:
        raise UserError(f"snooze for 1 to {MAX_SNOOZE_DAYS} days")
    wc.refresh(now)
    flag = _open_flag(wc, flag_id, now)
    until = now + int(days) * DAY
    snooze(wc.db, [flag], until, now)
    return get_flag(wc.db, flag_id) or flag, f"snoozed {flag_id} until {iso(until)}"


def person_id(wc: WebContext, ref: str) -> int:
    """A person from an id, an address or an unambiguous name (``resolve_person``)."""
    return resolve_person(wc.db, ref)


def log(wc: WebContext, person: int, kind: str, note: str, now: int) -> str:
    """``syncd log PERSON --kind KIND [--note TEXT]`` at ``now`` (log_touch checks the kind)."""
    touch = log_touch(wc.db, person, kind, now, note.strip()[:MAX_NOTE] or None)
    return f"logged: {touch.id} ({touch.kind} with person {touch.person_id} at {iso(touch.at)})"


def correct_kind(wc: WebContext, person: int, kind: str) -> str:
    """``syncd kind PERSON KIND`` (``auto``: inferred again)."""
    if kind not in (*KINDS, "auto"):
        raise UserError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)} or auto")
    set_kind(wc.db, person, None if kind == "auto" else kind)
    return f"person {person} is {kind if kind != 'auto' else 'inferred from the evidence again'}"


def ignore_person(wc: WebContext, person: int) -> str:
    """``syncd ignore ADDR`` for each of the person's addresses."""
    emails = people_info(wc.db, {person})[person]["emails"]
    if not emails:
        raise UserError(f"person {person} has no address to ignore")
    done = [ignore(wc.db, e) for e in emails]
    return f"ignoring {', '.join(done)} (syncd unignore to undo)"


def pin(wc: WebContext, person: int, tier: str) -> str:
    """``syncd people tier PERSON TIER`` (``auto`` removes the pin)."""
    if tier not in (*ALL_TIERS, "auto"):
        raise UserError(f"unknown tier {tier!r}")
    pin_tier(wc.db, person, None if tier == "auto" else tier)
    return f"person {person}: tier {'automatic' if tier == 'auto' else 'pinned to ' + tier}"


def merge(wc: WebContext, keep: int, other_ref: str) -> str:
    """``syncd merge KEEP OTHER`` (logged: ``syncd merge --undo ID`` puts OTHER back)."""
    other = resolve_person(wc.db, other_ref)
    change = merge_people(wc.db, keep, other)
    return f"merged person {other} into {keep} (undo with: syncd merge --undo {change.id})"


def split_off(wc: WebContext, person: int, address: str) -> tuple[int, str]:
    """``syncd split PERSON ADDRESS``: the new person and what happened."""
    change = split(wc.db, person, address)
    moved = ", ".join(change.detail["addresses"])
    return change.other, (
        f"split {moved} off person {person} into person {change.other}"
        f" (undo with: syncd merge {person} {change.other})"
    )


def tag(wc: WebContext, person: int, raw: str) -> str:
    """``syncd tag PERSON TAG...`` (tags separated by spaces or commas)."""
    change = add_tags(wc.db, person, _tag_names(raw))
    return f"person {person}: tags now {', '.join(change.tags) or 'none'}"


def untag(wc: WebContext, person: int, raw: str) -> str:
    """``syncd untag PERSON TAG``."""
    change = remove_tags(wc.db, person, _tag_names(raw))
    return f"person {person}: tags now {', '.join(change.tags) or 'none'}"


def _tag_names(raw: str) -> list[str]:
    names = [n for n in re.split(r"[\s,;]+", raw.strip()) if n]
    if not names:
        raise UserError("no tag given")
    return names
