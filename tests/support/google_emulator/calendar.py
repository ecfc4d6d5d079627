"""The Google Calendar v3 subset: events (list/insert/get/delete), freebusy, calendarList.

Events are stored as Google stores them: single events, recurring masters
with ``recurrence`` lines, and exceptions (``recurringEventId`` +
``originalStartTime``) that override or cancel one instance. ``singleEvents``
expands masters into instances (ids ``MASTER_YYYYMMDDTHHMMSSZ``) up to a
horizon. Every change bumps a sequence number; sync tokens are that number,
so an incremental list returns everything changed since, deleted events
included (reduced to the fields Google guarantees: ``id`` and ``status``, and
for cancelled exceptions ``recurringEventId`` and ``originalStartTime``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from .errors import ApiError

ID_RE = re.compile(r"[0-9a-v]{5,1024}")
NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def rfc3339(value: datetime) -> str:
    """``2024-01-01T10:00:00+01:00`` (``Z`` for UTC)."""
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp with mandatory offset."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ApiError(400, f"Bad Request: time without offset: {text}", "badRequest")
    return value


def _when(obj: dict[str, Any]) -> tuple[datetime, bool]:
    """An event time (``{"dateTime"}`` or ``{"date"}``) as an aware datetime, all-day flag."""
    if "date" in obj:
        d = date.fromisoformat(obj["date"])
        return datetime(d.year, d.month, d.day, tzinfo=UTC), True
    value = parse_rfc3339(obj["dateTime"])
    if obj.get("timeZone"):
        value = value.astimezone(ZoneInfo(obj["timeZone"]))
    return value, False


def _as_time(value: datetime, all_day: bool, tz: str | None) -> dict[str, Any]:
    if all_day:
        return {"date": value.date().isoformat()}
    out: dict[str, Any] = {"dateTime": rfc3339(value)}
    if tz:
        out["timeZone"] = tz
    return out


def _suffix(start: datetime, all_day: bool) -> str:
    if all_day:
        return start.strftime("%Y%m%d")
    return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _key(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unkey(text: str, what: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except Exception:
        raise ApiError(400, f"Invalid {what} value.", "invalid") from None


@dataclass
class Stored:
    """One stored event resource and the sequence number of its last change."""

    resource: dict[str, Any]
    mod: int
    deleted: bool = False


@dataclass
class CalendarState:
    """The calendars of one user."""

    owner: str
    horizon_days: int = 730
    now: float | None = None
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Stored]] = field(default_factory=dict)
    seq: int = 1
    generation: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.add_calendar(self.owner, primary=True)

    # -- building calendars ------------------------------------------------------

    def add_calendar(self, cal_id: str, summary: str = "", primary: bool = False) -> None:
        """Create a calendar."""
        with self.lock:
            self.calendars[cal_id] = {
                "kind": "calendar#calendarListEntry",
                "id": cal_id,
                "summary": summary or cal_id,
                "timeZone": "UTC",
                "accessRole": "owner",
                **({"primary": True} if primary else {}),
            }
            self.events.setdefault(cal_id, {})

    def _cal(self, cal_id: str) -> str:
        cal = self.owner if cal_id == "primary" else cal_id
        if cal not in self.calendars:
            raise ApiError(404, "Not Found", "notFound")
        return cal

    def _bump(self) -> int:
        self.seq += 1
        return self.seq

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.now if self.now is not None else time.time(), UTC)

    def _complete(self, cal: str, res: dict[str, Any], event_id: str | None) -> dict[str, Any]:
        eid = event_id or hashlib.blake2b(
            f"{cal}{time.time_ns()}{self.seq}".encode(), digest_size=13
        ).hexdigest().translate(str.maketrans("wxyz", "0123"))
        stamp = rfc3339(self._now()).replace("Z", ".000Z")
        out = {
            "kind": "calendar#event",
            "id": eid,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": stamp,
            "updated": stamp,
            "iCalUID": f"{eid}@google.com",
            "sequence": 0,
            "creator": {"email": self.owner, "self": True},
            "organizer": {"email": cal, "self": cal == self.owner},
            "eventType": "default",
        }
        out.update(copy.deepcopy(res))
        out["id"] = eid
        out["etag"] = f'"{self.seq}"'
        for att in out.get("attendees", []):
            if att.get("email", "").lower() == self.owner:
                att["self"] = True
            att.setdefault("responseStatus", "needsAction")
        return out

    def add_event(self, cal_id: str = "primary", **resource: Any) -> dict[str, Any]:
        """Store an event as given (test helper; ``id`` optional)."""
        with self.lock:
            cal = self._cal(cal_id)
            mod = self._bump()
            res = self._complete(cal, resource, resource.get("id"))
            self.events[cal][res["id"]] = Stored(res, mod)
            return copy.deepcopy(res)

    def update_event(self, event_id: str, cal_id: str = "primary", **changes: Any) -> None:
        """Change a stored event (or exception); bumps ``sequence`` when times change."""
        with self.lock:
            st = self.events[self._cal(cal_id)][event_id]
            if {"start", "end", "recurrence"} & set(changes):
                st.resource["sequence"] = st.resource.get("sequence", 0) + 1
            st.resource.update(copy.deepcopy(changes))
            st.resource["updated"] = rfc3339(self._now()).replace("Z", ".000Z")
            st.mod = self._bump()
            st.resource["etag"] = f'"{st.mod}"'

    def delete_event(self, event_id: str, cal_id: str = "primary") -> None:
        """Delete an event (kept as a tombstone for sync)."""
        with self.lock:
            cal = self._cal(cal_id)
            st = self.events[cal].get(event_id)
            if st is None:  # an instance: store a cancelled exception
                inst = self._instance(cal, event_id)
                if inst is None:
                    raise KeyError(event_id)
                inst["status"] = "cancelled"
                self.events[cal][event_id] = Stored(inst, self._bump())
                return
            st.deleted = True
            st.resource["status"] = "cancelled"
            st.mod = self._bump()

    def expire_sync_tokens(self) -> None:
        """Invalidate every sync token issued so far (events.list answers 410)."""
        with self.lock:
            self.generation += 1

    # -- expansion -------------------------------------------------------------------

    def _expand(self, master: dict[str, Any]) -> list[dict[str, Any]]:
        start, all_day = _when(master["start"])
        end, _ = _when(master["end"])
        duration = end - start
        tz = master["start"].get("timeZone")
        lines = [
            x
            for x in master.get("recurrence", [])
            if x.split(":")[0].split(";")[0] in ("RRULE", "EXDATE", "RDATE", "EXRULE")
        ]
        horizon = self._now() + timedelta(days=self.horizon_days)
        dtstart = start
        rules = rrule.rrulestr("\n".join(lines), dtstart=dtstart, forceset=True)
        out = []
        for occ in rules:
            if occ >= horizon or len(out) >= 5000:
                break
            inst = {k: copy.deepcopy(v) for k, v in master.items() if k != "recurrence"}
            inst["id"] = f"{master['id']}_{_suffix(occ, all_day)}"
            inst["recurringEventId"] = master["id"]
            inst["originalStartTime"] = _as_time(occ, all_day, tz)
            inst["start"] = _as_time(occ, all_day, tz)
            inst["end"] = _as_time(occ + duration, all_day, master["end"].get("timeZone"))
            out.append(inst)
        return out

    def _instance(self, cal: str, instance_id: str) -> dict[str, Any] | None:
        master_id = instance_id.rsplit("_", 1)[0]
        st = self.events[cal].get(master_id)
        if st is None or "recurrence" not in st.resource:
            return None
        return next((i for i in self._expand(st.resource) if i["id"] == instance_id), None)

    def _items(self, cal: str, single: bool) -> list[tuple[dict[str, Any], int, str]]:
        """``(resource, mod, state)`` for every listable item; state: live/exception/deleted."""
        stored = self.events[cal]
        out: list[tuple[dict[str, Any], int, str]] = []
        for st in stored.values():
            res = st.resource
            if "recurringEventId" in res:
                master = stored.get(res["recurringEventId"])
                if single or master is None:
                    continue
                state = (
                    "deleted"
                    if master.deleted
                    else ("exception" if res.get("status") == "cancelled" else "live")
                )
                out.append((res, max(st.mod, master.mod), state))
                continue
            if single and "recurrence" in res:
                for inst in self._expand(res):
                    exc = stored.get(inst["id"])
                    mod = st.mod
                    item = inst
                    state = "deleted" if st.deleted else "live"
                    if exc is not None:
                        mod = max(mod, exc.mod)
                        item = exc.resource
                        if not st.deleted and exc.resource.get("status") == "cancelled":
                            state = "exception"
                    out.append((item, mod, state))
                continue
            out.append((res, st.mod, "deleted" if st.deleted else "live"))
        return out

    @staticmethod
    def _minimal(item: dict[str, Any], state: str) -> dict[str, Any]:
        out = {
            "kind": "calendar#event",
            "etag": item.get("etag", '"0"'),
            "id": item["id"],
            "status": "cancelled",
        }
        if state == "exception":
            out["recurringEventId"] = item["recurringEventId"]
            out["originalStartTime"] = item["originalStartTime"]
        return out

    # -- API handlers ------------------------------------------------------------------

    def events_list(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        cal = self._cal(params["calendarId"])
        single = bool(params.get("singleEvents", False))
        token = params.get("syncToken")
        if token is not None:
            bad = [p for p in NOT_WITH_SYNC_TOKEN if p in params]
            if bad:
                raise ApiError(
                    400, f"Sync token cannot be used together with {', '.join(bad)}.", "invalid"
                )
            if params.get("showDeleted") is False:
                raise ApiError(
                    400, "showDeleted=false is not allowed with a sync token.", "invalid"
                )
        if params.get("orderBy") == "startTime" and not single:
            raise ApiError(
                400, "The requested ordering is not available for the particular query.", "invalid"
            )
        size = min(int(params.get("maxResults", 250)), 2500)
        with self.lock:
            page = _unkey(params["pageToken"], "page token") if "pageToken" in params else None
            if token is not None:
                tok = _unkey(token, "sync token")
                if tok.get("g") != self.generation:
                    raise ApiError(
                        410,
                        "Sync token is no longer valid, a full sync is required.",
                        "fullSyncRequired",
                    )
                if tok.get("se") != single:
                    raise ApiError(
                        400, "singleEvents differs from the initial synchronization.", "invalid"
                    )
                since = tok["s"]
            else:
                since = None
            snap = page["snap"] if page else self.seq
            items = self._items(cal, single)
            chosen = []
            tmin = parse_rfc3339(params["timeMin"]) if "timeMin" in params else None
            tmax = parse_rfc3339(params["timeMax"]) if "timeMax" in params else None
            umin = parse_rfc3339(params["updatedMin"]) if "updatedMin" in params else None
            for item, mod, state in items:
                if since is not None:
                    if not since < mod:
                        continue
                elif state != "live" and not params.get("showDeleted") and umin is None:
                    continue
                if state == "live":
                    if tmin or tmax:
                        s, _ = _when(item["start"])
                        e, _ = _when(item["end"])
                        if (tmin and e <= tmin) or (tmax and s >= tmax):
                            continue
                    if "q" in params and params["q"].lower() not in json.dumps(item).lower():
                        continue
                    if "iCalUID" in params and item.get("iCalUID") != params["iCalUID"]:
                        continue
                    private = item.get("extendedProperties", {}).get("private", {})
                    if any(
                        private.get(c.split("=", 1)[0]) != c.split("=", 1)[-1]
                        for c in params.get("privateExtendedProperty", [])
                    ):
                        continue
                if (
                    umin is not None
                    and parse_rfc3339(
                        item.get("updated", "1970-01-01T00:00:00Z").replace(".000Z", "Z")
                    )
                    < umin
                ):
                    continue
                chosen.append((item, state))
            if params.get("orderBy") == "startTime":
                chosen.sort(
                    key=lambda x: (
                        (rfc3339(_when(x[0]["start"])[0].astimezone(UTC)), x[0]["id"])
                        if "start" in x[0]
                        else ("", x[0]["id"])
                    )
                )
                sort_key = [
                    (
                        rfc3339(_when(x[0]["start"])[0].astimezone(UTC)) if "start" in x[0] else "",
                        x[0]["id"],
                    )
                    for x in chosen
                ]
            else:
                chosen.sort(key=lambda x: x[0]["id"])
                sort_key = [("", x[0]["id"]) for x in chosen]
            start = 0
            if page:
                after = tuple(page["after"])
                start = next((i for i, k in enumerate(sort_key) if k > after), len(chosen))
            window = chosen[start : start + size]
            out: dict[str, Any] = {
                "kind": "calendar#events",
                "summary": self.calendars[cal]["summary"],
                "updated": rfc3339(self._now()),
                "timeZone": self.calendars[cal]["timeZone"],
                "accessRole": "owner",
                "items": [
                    copy.deepcopy(item)
                    if state == "live"
                    or (params.get("showDeleted") and since is None and state != "exception")
                    else self._minimal(item, state)
                    for item, state in window
                ],
            }
            if start + size < len(chosen):
                out["nextPageToken"] = _key(
                    {"after": list(sort_key[start + size - 1]), "snap": snap}
                )
            else:
                out["nextSyncToken"] = _key({"s": snap, "g": self.generation, "se": single})
            return out

    def events_insert(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        cal = self._cal(params["calendarId"])
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request", "badRequest")
        eid = body.get("id")
        if eid is not None and not (isinstance(eid, str) and ID_RE.fullmatch(eid)):
            raise ApiError(400, "Invalid resource id value.", "invalid")
        if "start" not in body or "end" not in body:
            raise ApiError(
                400, "Missing end time." if "start" in body else "Missing start time.", "required"
            )
        try:
            s, _ = _when(body["start"])
            e, _ = _when(body["end"])
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"Bad time: {exc}", "invalid") from None
        if e < s:
            raise ApiError(400, "The specified time range is empty.", "timeRangeEmpty")
        with self.lock:
            if eid is not None and eid in self.events[cal]:
                raise ApiError(409, "The requested identifier already exists.", "duplicate")
            mod = self._bump()
            res = self._complete(cal, body, eid)
            self.events[cal][res["id"]] = Stored(res, mod)
            return copy.deepcopy(res)

    def events_get(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        cal = self._cal(params["calendarId"])
        with self.lock:
            st = self.events[cal].get(params["eventId"])
            if st is not None:
                return copy.deepcopy(st.resource)
            inst = self._instance(cal, params["eventId"])
            if inst is None:
                raise ApiError(404, "Not Found", "notFound")
            return inst

    def events_delete(self, params: dict[str, Any], body: Any, scopes: set[str]) -> None:
        cal = self._cal(params["calendarId"])
        with self.lock:
            st = self.events[cal].get(params["eventId"])
            if st is not None and (st.deleted or st.resource.get("status") == "cancelled"):
                raise ApiError(410, "Resource has been deleted", "deleted")
            try:
                self.delete_event(params["eventId"], cal)
            except KeyError:
                raise ApiError(404, "Not Found", "notFound") from None
        return None

    def freebusy_query(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        if not isinstance(body, dict) or "timeMin" not in body or "timeMax" not in body:
            raise ApiError(400, "Missing timeMin or timeMax.", "required")
        tmin = parse_rfc3339(body["timeMin"])
        tmax = parse_rfc3339(body["timeMax"])
        out: dict[str, Any] = {
            "kind": "calendar#freeBusy",
            "timeMin": rfc3339(tmin.astimezone(UTC)),
            "timeMax": rfc3339(tmax.astimezone(UTC)),
            "calendars": {},
        }
        with self.lock:
            for entry in body.get("items", []):
                cid = entry.get("id", "")
                try:
                    cal = self._cal(cid)
                except ApiError:
                    out["calendars"][cid] = {
                        "errors": [{"domain": "global", "reason": "notFound"}],
                        "busy": [],
                    }
                    continue
                spans = []
                for item, _, state in self._items(cal, True):
                    if state != "live" or item.get("status") == "cancelled":
                        continue
                    if item.get("transparency") == "transparent":
                        continue
                    if any(
                        a.get("self") and a.get("responseStatus") == "declined"
                        for a in item.get("attendees", [])
                    ):
                        continue
                    s, _ = _when(item["start"])
                    e, _ = _when(item["end"])
                    s, e = max(s, tmin), min(e, tmax)
                    if s < e:
                        spans.append((s.astimezone(UTC), e.astimezone(UTC)))
                spans.sort()
                merged: list[list[datetime]] = []
                for s, e in spans:
                    if merged and s <= merged[-1][1]:
                        merged[-1][1] = max(merged[-1][1], e)
                    else:
                        merged.append([s, e])
                out["calendars"][cid] = {
                    "busy": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in merged]
                }
        return out

    def calendar_list(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        with self.lock:
            return {
                "kind": "calendar#calendarList",
                "items": [copy.deepcopy(c) for c in self.calendars.values()],
            }

    def handlers(self) -> dict[str, Any]:
        """Method id -> handler."""
        return {
            "calendar.events.list": self.events_list,
            "calendar.events.insert": self.events_insert,
            "calendar.events.get": self.events_get,
            "calendar.events.delete": self.events_delete,
            "calendar.freebusy.query": self.freebusy_query,
            "calendar.calendarList.list": self.calendar_list,
        }
