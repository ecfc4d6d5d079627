"""The calendar of the Graph emulator: events, ``calendarView/delta``, writes, getSchedule.

Documented behaviour followed: ``calendarView/delta`` takes ``startDateTime``
and ``endDateTime`` on the first request only (then the links carry them),
refuses ``$select`` (400), pages with ``Prefer: odata.maxpagesize``, and
returns occurrences expanded, removals as ``@removed``; an expired token is
410 ``syncStateNotFound``. ``POST /me/events`` with a ``transactionId`` seen
before returns the event already created instead of a second one;
``singleValueExtendedProperties`` are stored and found by ``$filter``
(``singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')``)
and returned by ``$expand``. ``getSchedule`` reports the busy items
(not ``free``, not cancelled) of the default calendar only. ``calendarView``
(not delta) needs ``startDateTime`` and ``endDateTime``, returns the
instances overlapping the window (cancelled ones too, ``isCancelled``),
honours ``$select``, pages at 10 (``$top`` or ``Prefer: odata.maxpagesize``)
with a ``$skip`` nextLink.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError
from .mail import Round

_ANY = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(\w+)\s*:\s*\1/id eq '((?:[^']|'')*)'"
    r"\s+and\s+\1/value eq '((?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=id eq '((?:[^']|'')*)'\)", re.I)


def parse_time(value: dict[str, Any] | str) -> float:
    """Epoch seconds of a Graph ``dateTimeTimeZone`` (UTC only) or an ISO string."""
    text = value["dateTime"] if isinstance(value, dict) else value
    text = text.rstrip("Z").split(".")[0]
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def graph_time(epoch: float) -> dict[str, str]:
    """A ``dateTimeTimeZone`` in UTC, as Graph answers with ``Prefer: outlook.timezone="UTC"``."""
    return {
        "dateTime": datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC",
    }


@dataclass
class CalendarState:
    """Events of one mailbox's calendars."""

    user: str
    calendar_id: str = "CAL-1"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[tuple[int, str, str]] = field(default_factory=list)  # seq, id, op
    tokens: dict[str, Round] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    last: int = 0

    def _log(self, eid: str, op: str) -> None:
        self.last = next(self.seq)
        self.changes.append((self.last, eid, op))

    # -- editing --------------------------------------------------------------------------

    def add_event(
        self,
        subject: str,
        start: float,
        end: float,
        attendees: list[dict[str, Any]] | None = None,
        organizer: str | None = None,
        **extra: Any,
    ) -> str:
        """An event; ``attendees`` as Graph holds them (``emailAddress``, ``type``, ``status``)."""
        eid = "E-" + secrets.token_hex(8)
        res: dict[str, Any] = {
            "id": eid,
            "iCalUId": "040000008200E0" + secrets.token_hex(12),
            "subject": subject,
            "start": graph_time(start),
            "end": graph_time(end),
            "isAllDay": False,
            "isCancelled": False,
            "showAs": "busy",
            "type": "singleInstance",
            "attendees": attendees or [],
            "organizer": {"emailAddress": {"address": organizer or self.user}},
            "responseStatus": {"response": "organizer" if not organizer else "accepted"},
            "body": {"contentType": "text", "content": ""},
            "lastModifiedDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        res.update(extra)
        self.events[eid] = res
        self._log(eid, "add")
        return eid

    def update_event(self, eid: str, **changes: Any) -> None:
        """Change an event as the user would (a move, a cancellation)."""
        self.events[eid].update(changes)
        self._log(eid, "add")

    def delete_event(self, eid: str) -> None:
        """Delete an event; unknown ids are 404."""
        if eid not in self.events:
            raise ApiError(404, "ErrorItemNotFound", "The specified object was not found.")
        del self.events[eid]
        self._log(eid, "remove")

    def expire_tokens(self) -> None:
        """Every delta token becomes unknown."""
        self.tokens.clear()

    # -- serving ------------------------------------------------------------------------

    def view(self, res: dict[str, Any], expand: str | None = None) -> dict[str, Any]:
        """An event as returned (extended properties only through ``$expand``)."""
        out = {k: v for k, v in res.items() if k not in ("singleValueExtendedProperties",)}
        if expand is not None:
            props = [
                p
                for p in res.get("singleValueExtendedProperties", [])
                if p["id"].lower() == expand.lower()
            ]
            if props:
                out["singleValueExtendedProperties"] = props
        return out

    def delta(self, query: dict[str, str], page_size: int, link: str) -> dict[str, Any]:
        """One page of ``calendarView/delta``."""
        if "$select" in query:
            raise ApiError(
                400, "ErrorInvalidUrlQuery", "$select is not supported on calendarView/delta."
            )
        if "$skiptoken" in query or "$deltatoken" in query:
            token = query.get("$skiptoken") or query.get("$deltatoken") or ""
            state = self.tokens.get(token)
            if state is None:
                raise ApiError(410, "syncStateNotFound", "The sync state is not found or expired.")
            if "$deltatoken" in query:
                state = Round(state.folder, None, state.since)
        else:
            if "startDateTime" not in query or "endDateTime" not in query:
                raise ApiError(
                    400, "ErrorInvalidParameter", "startDateTime and endDateTime are required."
                )
            window = "W-" + secrets.token_hex(4)
            self.windows[window] = (
                parse_time(query["startDateTime"]),
                parse_time(query["endDateTime"]),
            )
            state = Round(window, None, 0)
        lo, hi = self.windows[state.folder]
        if state.pending is None:
            state.upto = self.last
            state.pending = self._changed(state.since, state.upto, lo, hi)
        take, rest = state.pending[:page_size], state.pending[page_size:]
        values = []
        for entry in take:
            op, eid = entry.split(":", 1)
            res = self.events.get(eid)
            if op == "remove" or res is None:
                values.append({"id": eid, "@removed": {"reason": "deleted"}})
            else:
                values.append(self.view(res))
        token = secrets.token_urlsafe(12)
        out: dict[str, Any] = {"value": values}
        if rest:
            self.tokens[token] = Round(state.folder, None, state.since, rest, state.upto)
            out["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            self.tokens[token] = Round(state.folder, None, state.upto)
            out["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        return out

    def calendar_view(self, query: dict[str, str], page_size: int, link: str) -> dict[str, Any]:
        """One page of ``calendarView`` over ``[startDateTime, endDateTime)``."""
        if "startDateTime" not in query or "endDateTime" not in query:
            raise ApiError(
                400, "ErrorInvalidParameter", "startDateTime and endDateTime are required."
            )
        lo, hi = parse_time(query["startDateTime"]), parse_time(query["endDateTime"])
        size = min(int(query.get("$top") or page_size), 1000)
        skip = int(query.get("$skip") or 0)
        inside = sorted(
            (e for e in self.events.values() if self._inside(e, lo, hi)),
            key=lambda e: parse_time(e["start"]),
        )
        select = [f for f in query.get("$select", "").split(",") if f]
        values = []
        for res in inside[skip : skip + size]:
            view = self.view(res)
            if select:
                view = {k: v for k, v in view.items() if k in select or k == "id"}
            values.append(view)
        out: dict[str, Any] = {"value": values}
        if skip + size < len(inside):
            out["@odata.nextLink"] = f"{link}?{urlencode({**query, '$skip': skip + size})}"
        return out

    def _inside(self, res: dict[str, Any], lo: float, hi: float) -> bool:
        return parse_time(res["start"]) < hi and parse_time(res["end"]) > lo

    def _changed(self, since: int, upto: int, lo: float, hi: float) -> list[str]:
        if since == 0:
            return [f"add:{eid}" for eid, res in self.events.items() if self._inside(res, lo, hi)]
        latest: dict[str, str] = {}
        for seq, eid, op in self.changes:
            if since < seq <= upto:
                latest[eid] = op
        out = []
        for eid, op in latest.items():
            res = self.events.get(eid)
            if op == "add" and res is not None and not self._inside(res, lo, hi):
                op = "remove"
            out.append(f"{op}:{eid}")
        return out

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /me/events``: a ``transactionId`` seen before returns that event."""
        tid = body.get("transactionId")
        if tid and tid in self.transactions and self.transactions[tid] in self.events:
            return self.view(self.events[self.transactions[tid]])
        for name in ("start", "end"):
            if not isinstance(body.get(name), dict) or "dateTime" not in body[name]:
                raise ApiError(400, "ErrorInvalidRequest", f"{name} is required")
        tz = body["start"].get("timeZone", "UTC")
        if tz not in ("UTC", "Etc/UTC"):
            raise ApiError(400, "ErrorTimeZoneNotSupported", "the emulator takes UTC times only")
        props = body.get("singleValueExtendedProperties") or []
        eid = self.add_event(
            str(body.get("subject", "")),
            parse_time(body["start"]),
            parse_time(body["end"]),
            attendees=body.get("attendees") or [],
            showAs=body.get("showAs", "busy"),
            body=body.get("body") or {"contentType": "text", "content": ""},
            transactionId=tid,
            singleValueExtendedProperties=[{"id": p["id"], "value": p["value"]} for p in props],
        )
        if tid:
            self.transactions[tid] = eid
        return self.view(self.events[eid])

    def find(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /me/events?$filter=singleValueExtendedProperties/Any(...)&$expand=...``."""
        expr = query.get("$filter")
        if not expr:
            return [self.view(e) for e in self.events.values()]
        m = _ANY.fullmatch(expr.strip())
        if m is None:
            raise ApiError(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The emulator supports only the extended property filter.",
            )
        pid, value = m.group(2).replace("''", "'"), m.group(3).replace("''", "'")
        ex = _EXPAND.search(query.get("$expand", ""))
        expand = ex.group(1).replace("''", "'") if ex else None
        return [
            self.view(e, expand)
            for e in self.events.values()
            if any(
                p["id"].lower() == pid.lower() and p["value"] == value
                for p in e.get("singleValueExtendedProperties", [])
            )
        ]

    def schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /me/calendar/getSchedule`` for this mailbox."""
        lo, hi = parse_time(body["startTime"]), parse_time(body["endTime"])
        out = []
        for who in body.get("schedules", []):
            if who.lower() != self.user.lower():
                out.append(
                    {
                        "scheduleId": who,
                        "error": {
                            "message": "not found",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            items = [
                {
                    "status": e.get("showAs", "busy"),
                    "start": e["start"],
                    "end": e["end"],
                    "isPrivate": False,
                }
                for e in self.events.values()
                if not e.get("isCancelled")
                and e.get("showAs", "busy") != "free"
                and self._inside(e, lo, hi)
            ]
            out.append({"scheduleId": who, "availabilityView": "", "scheduleItems": items})
        return {"value": out}
