"""A generated example network: two years of a consultant's mail and calendar.

:func:`generate` writes what ``syncd demo`` imports: one mbox file per folder
(headers and a one-line body) and one ``calendar.ics``, for the persona Dana
Whitfield, an independent operations consultant. The data exercises the
touchpoint semantics (design.md §2): clients mailed every week, regular and
occasional contacts, a long tail, relationships that went quiet, newsletters,
notifications, bounces and auto-replies, broadcasts, Drafts and Spam, copies
of one message in several folders (some with another Message-ID), both of the
persona's addresses, gmail dot/plus variants, and recurring, one-off,
cancelled, declined and upcoming meetings.

Deterministic: everything comes from a seeded :class:`random.Random` and the
explicit ``anchor`` (the end of the two years), so one anchor always gives
byte-identical files. While generating, a ledger records what each contact
must end up with (messages each way, meetings, first and last touch): the
:class:`Manifest` carries it, so tests check ``syncd people`` against figures
known by construction rather than recomputed.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.demo.files import calendar_bytes, message_bytes, write_file
from syncd.demo.model import Contact, Event, Mail, Manifest
from syncd.demo.tables import (
    AUTOMATED,
    BROADCAST_THRESHOLD,
    CLIENTS,
    DAEMONS,
    DAY,
    FIRST,
    LAST,
    LIST,
    LIST_HEADERS,
    LONDON,
    MAIL_FOLDERS,
    ME_FORMS,
    OPENERS,
    ORGS,
    PERSONA,
    PERSONA_ADDRESSES,
    PERSONA_VARIANTS,
    PERSONAL,
    SEED,
    SKIPPED_FOLDERS,
    SOCIAL,
    SPECIAL_NAMES,
    TOPICS,
    WORK,
    Addr,
    rows,
)


class _Builder:
    """Builds the network in memory, keeping the ledger; :func:`generate` writes it."""

    def __init__(self, anchor: int, seed: int):
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.start = anchor - 730 * DAY
        self.mails: list[Mail] = []
        self.events: list[Event] = []
        self.contacts: dict[str, Contact] = {}
        self.by_form: dict[str, Contact] = {}
        self.forms: dict[str, tuple[str, ...]] = {}
        self.excluded: set[str] = set()
        self.tally = dict.fromkeys(
            ("counted", "bulk", "broadcast", "skipped", "held", "upcoming"), 0
        )
        self.serial = 0
        self.fingerprints: set[tuple] = set()
        self.names = [(f, la) for f in FIRST for la in LAST]
        self.rng.shuffle(self.names)
        self.taken = {"Priya Raman", "Tom Becker", "Fatima Haddad", "Oliver Brennan", "John Smith"}

    # -- people -------------------------------------------------------------

    def person(self, role: str, org: str, name: str = "", local: str = "", variants=()) -> Contact:
        """A new contact (a random name unless given) at ``org``."""
        style, tz = ORGS[org]
        while True:
            first, last = name.split(" ", 1) if name else self.draw_name()
            address = local or _local_part(first, last, style)
            address = f"{address}@{org}"
            if address not in self.contacts:
                break
            name = ""  # an address clash: draw another name
        c = Contact(f"{first} {last}", address, org, role, tz, tuple(v.lower() for v in variants))
        self.contacts[address] = c
        self.forms[address] = (address, *variants)
        for form in self.forms[address]:
            self.by_form[form.lower()] = c
        return c

    def draw_name(self) -> tuple[str, str]:
        while True:
            first, last = self.names.pop()
            if f"{first} {last}" not in self.taken:
                self.taken.add(f"{first} {last}")
                return first, last

    def addr(self, c: Contact, varied: float = 0.0) -> Addr:
        """How ``c`` appears in a header (sometimes another spelling of the address)."""
        forms = self.forms[c.address]
        if len(forms) > 1 and self.rng.random() < varied:
            return c.name, self.rng.choice(forms[1:])
        return c.name, forms[0]

    def stranger(self, domain: str, local: str = "", name: str = "") -> Addr:
        """Someone who appears only where nothing counts: never a person."""
        first, last = name.split(" ", 1) if name else self.draw_name()
        address = f"{local or _local_part(first, last, 'first.last')}@{domain}"
        self.excluded.add(address.lower())
        return f"{first} {last}", address

    @staticmethod
    def me(personal: bool = False) -> Addr:
        return PERSONA, PERSONAL if personal else WORK

    # -- time ---------------------------------------------------------------

    def when(self, lo: int, hi: int, tz: ZoneInfo, weekend: float = 0.05) -> int:
        """A working-hours moment in ``[lo, hi)``, local time of ``tz``, before the anchor."""
        hi = min(hi, self.anchor - 3600)
        rng = self.rng
        for _ in range(60):
            d = datetime.fromtimestamp(rng.randrange(lo, max(hi, lo + 1)), tz).date()
            if d.weekday() >= 5 and rng.random() > weekend:
                d += timedelta(days=7 - d.weekday())
            t = datetime(d.year, d.month, d.day, rng.randint(8, 18), rng.randrange(60), tzinfo=tz)
            at = int(t.timestamp()) + rng.randrange(60)
            if lo <= at < hi:
                return at
        return min(max(lo, hi - 7200), self.anchor - 3600)

    def gap(self) -> int:
        """Time until a reply."""
        r = self.rng.random()
        if r < 0.6:
            return self.rng.randint(600, 4 * 3600)
        return (
            self.rng.randint(4 * 3600, 2 * DAY) if r < 0.9 else self.rng.randint(2 * DAY, 7 * DAY)
        )

    # -- mail ---------------------------------------------------------------

    def mail(
        self,
        sender: Addr,
        to: list[Addr],
        subject: str,
        at: int,
        *,
        cc=(),
        bcc=(),
        reply: Mail | None = None,
        extra=(),
        folders=None,
        kind: str = "counted",
        return_path: str | None = None,
    ) -> Mail:
        """Add one logical message; ``kind`` says why it counts or does not."""
        sender_l = sender[1].lower()
        outbound = sender_l in ME_FORMS
        while (sender_l, at, " ".join(subject.split())) in self.fingerprints:
            at += 1  # two messages must not share a fingerprint by accident
        self.fingerprints.add((sender_l, at, " ".join(subject.split())))
        self.serial += 1
        token = f"{self.rng.getrandbits(48):012x}.{self.serial:05d}"
        domain = sender_l.partition("@")[2]
        mid = f"<CA+{token}@mail.gmail.com>" if domain == "gmail.com" else f"<{token}@{domain}>"
        tz = LONDON if outbound else getattr(self.by_form.get(sender_l), "tz", LONDON)
        m = Mail(
            sender,
            list(to),
            list(cc),
            list(bcc),
            at,
            tz,
            subject,
            mid,
            at + self.rng.randint(2, 90),
            reply,
            list(extra),
            return_path=return_path,
        )
        m.folders = folders if folders is not None else self.place(outbound)
        if self.rng.random() < 0.06 and not SKIPPED_FOLDERS & set(m.folders):
            # One more copy with a Message-ID of its own (re-filed by another client).
            m.alt_ids["Archive"] = f"<{token}.refiled@archive.whitfield-consulting.example>"
            if "Archive" not in m.folders:
                m.folders.append("Archive")
        self.mails.append(m)
        self.tally[kind] = self.tally.get(kind, 0) + 1
        if kind == "counted":
            self.count(m)
        return m

    def place(self, outbound: bool) -> list[str]:
        """The folders holding copies of a message."""
        r = self.rng.random
        if outbound:
            return ["Sent"] + ["Archive"] * (r() < 0.35) + ["Trash"] * (r() < 0.02)
        x = r()
        if x < 0.06:
            return ["Trash"]  # deleted, yet still an interaction
        if x < 0.62:
            return ["INBOX"] + ["Archive"] * (r() < 0.2)
        return ["Archive"]

    def count(self, m: Mail) -> None:
        """The ledger: who gets a touchpoint from a counted message, by construction."""
        if m.sender[1].lower() in ME_FORMS:
            recipients = {a.lower() for _, a in m.to + m.cc + m.bcc} - ME_FORMS
            for a in recipients:
                self.by_form[a].touches_out += 1
                self.by_form[a].touch(m.at, a)
        else:
            assert any(a.lower() in ME_FORMS for _, a in m.to + m.cc)
            recipients = {m.sender[1].lower()}
            self.by_form[m.sender[1].lower()].touches_in += 1
            self.by_form[m.sender[1].lower()].touch(m.at, m.sender[1])
        if not recipients:  # a note to myself
            self.tally["counted"] -= 1
            self.tally["other"] = self.tally.get("other", 0) + 1

    def thread(
        self,
        c: Contact,
        at: int,
        n: int,
        dana_first: bool,
        subject: str,
        cc: list[Contact] = (),
        personal: bool = False,
        varied: float = 0.0,
    ) -> None:
        """A conversation of up to ``n`` alternating messages, starting at ``at``."""
        prev = None
        me = self.me(personal)
        cc_addrs = [self.addr(x) for x in cc]
        for i in range(n):
            if i:
                at += self.gap()
                if at >= self.anchor - 3600:
                    return
            subj = subject if i == 0 else "Re: " + subject
            if (i % 2 == 0) == dana_first:
                prev = self.mail(me, [self.addr(c, varied)], subj, at, cc=cc_addrs, reply=prev)
            else:
                to_me = me
                if personal and self.rng.random() < 0.3:
                    to_me = (PERSONA, self.rng.choice(PERSONA_VARIANTS))
                prev = self.mail(self.addr(c, varied), [to_me], subj, at, cc=cc_addrs, reply=prev)

    def subject(self) -> str:
        rng = self.rng
        topic = rng.choice(TOPICS).format(
            q=rng.randint(1, 4), y=rng.choice((2025, 2026, 2027)), n=rng.randint(2, 480)
        )
        return rng.choice(OPENERS).format(t=topic)

    def conversations(
        self,
        c: Contact,
        lo: int,
        hi: int,
        mean_gap_days: float,
        sizes: tuple,
        colleagues: list[Contact] = (),
        personal: bool = False,
        varied: float = 0.0,
    ) -> None:
        """Threads with ``c`` between ``lo`` and ``hi``, about every ``mean_gap_days``."""
        rng = self.rng
        t = lo + int(rng.expovariate(1 / mean_gap_days) * DAY / 2)
        while t < hi:
            at = self.when(t, min(t + 3 * DAY, hi), c.tz)
            cc = [rng.choice(colleagues)] if colleagues and rng.random() < 0.15 else []
            subject = rng.choice(SOCIAL) if personal else self.subject()
            size, first = rng.choice(sizes), rng.random() < 0.5
            self.thread(c, at, size, first, subject, cc, personal=personal, varied=varied)
            t += max(DAY, int(rng.expovariate(1 / mean_gap_days) * DAY))

    # -- calendar -----------------------------------------------------------

    def event(
        self,
        summary: str,
        start: datetime,
        minutes: int,
        organizer: Addr,
        others: list[Addr],
        *,
        me_status: str = "ACCEPTED",
        personal: bool = False,
        rooms: list[Addr] = (),
        counts: bool = True,
        **kw,
    ) -> Event:
        """Add an event (a series when ``rrule`` is given) with me as an attendee."""
        attendees = [(*self.me(personal), "INDIVIDUAL", me_status)]
        attendees += [(n, a, "INDIVIDUAL", "ACCEPTED") for n, a in others]
        attendees += [(n, a, "ROOM", "ACCEPTED") for n, a in rooms]
        self.excluded.update(a.lower() for _, a in rooms)
        self.serial += 1
        uid = f"{self.rng.getrandbits(64):016x}-{self.serial}@whitfield-consulting.example"
        end = start + timedelta(minutes=minutes)
        ev = Event(uid, summary, start, end, organizer, attendees, **kw)
        self.events.append(ev)
        if counts:
            self.count_event(ev)
        return ev

    def meet(
        self,
        people: Contact | list[Contact],
        lo: int,
        hi: int,
        summary: str,
        minutes: int = 45,
        invited: bool = False,
        **kw,
    ) -> Event:
        """A one-off meeting with ``people`` between ``lo`` and ``hi`` (may be upcoming)."""
        people = people if isinstance(people, list) else [people]
        tz = people[0].tz
        if hi <= self.anchor:
            local = datetime.fromtimestamp(self.when(lo, hi, tz), tz)
            local = local.replace(minute=local.minute // 15 * 15, second=0)
        else:  # upcoming: a round slot in working hours
            local = datetime.fromtimestamp(self.rng.randrange(lo, hi), tz)
            hour, minute = self.rng.randint(9, 16), self.rng.choice((0, 30))
            local = local.replace(hour=hour, minute=minute, second=0)
            local += timedelta(days=max(0, 7 - local.weekday()) if local.weekday() >= 5 else 0)
        organizer = self.addr(people[0]) if invited else self.me(kw.get("personal", False))
        return self.event(summary, local, minutes, organizer, [self.addr(p) for p in people], **kw)

    def instances(self, ev: Event) -> list[tuple[datetime, datetime, str]]:
        """The instances of ``ev`` up to 400 days past the anchor (our own expansion)."""
        horizon = datetime.fromtimestamp(self.anchor + 400 * DAY, UTC)
        rule, starts = ev.rrule or {"count": 1}, []
        interval, until, count = rule.get("interval", 1), rule.get("until"), rule.get("count")
        for k in range(10_000):
            if rule.get("freq") == "monthly":  # the first <weekday> of the month, same wall time
                y, mo = divmod(ev.start.month - 1 + k * interval, 12)
                first = date(ev.start.year + y, mo + 1, 1)
                day = first + timedelta(days=(ev.start.weekday() - first.weekday()) % 7)
                s = ev.start.replace(year=day.year, month=day.month, day=day.day)
            else:  # weekly: wall-clock arithmetic keeps the local time across DST
                s = ev.start + timedelta(weeks=k * interval)
            if (until and s > until) or (count and k >= count) or s > horizon:
                break
            starts.append(s)
        length = ev.end - ev.start
        return [
            ev.overrides.get(s, (s, s + length, ev.status)) for s in starts if s not in ev.exdates
        ]

    def count_event(self, ev: Event) -> None:
        """The ledger for meetings: each valid, ended instance with each other attendee."""
        others = {a.lower() for _, a, cutype, _ in ev.attendees if cutype == "INDIVIDUAL"}
        others = (others | {ev.organizer[1].lower()}) - ME_FORMS
        declined = any(a.lower() in ME_FORMS and p == "DECLINED" for _, a, _, p in ev.attendees)
        if declined or not 1 <= len(others) <= BROADCAST_THRESHOLD:
            return
        for _, end, status in self.instances(ev):
            at = int(end.timestamp())
            if status == "CANCELLED":
                continue
            self.tally["held" if at <= self.anchor else "upcoming"] += 1
            for a in others:
                c = self.by_form[a]
                if at <= self.anchor:
                    c.meetings += 1
                    c.touch(at, a)
                elif c.next_meeting is None or at < c.next_meeting:
                    c.next_meeting = at

    # -- the network --------------------------------------------------------

    def build(self) -> None:
        rng, A, S, P = self.rng, self.anchor, self.start, self.person
        close = [P("close", "northwind-logistics.example", "Priya Raman")]
        close += [P("close", "harbourline.example", "Tom Becker")]
        close += [P("close", org) for org in CLIENTS[2:6]]
        quiet = [P("quiet", "meridian-capital.example", "Fatima Haddad")]
        quiet += [P("quiet", "greyhaven-insurance.example", "Oliver Brennan")]
        quiet += [P("quiet", "tallis-pharma.example")]
        john = P(
            "regular",
            "gmail.com",
            "John Smith",
            "johnsmith",
            ("John.Smith@gmail.com", "john.smith+news@gmail.com"),
        )
        marta_old = P("regular", "meridian-capital.example", "Marta Kowalski")
        marta_new = P("regular", "bluefin-energy.example", "Marta Kowalski")
        special = [P("regular", CLIENTS[2 * i], n, loc) for i, (n, loc) in enumerate(SPECIAL_NAMES)]
        regular = [P("regular", rng.choice(CLIENTS + list(ORGS)[10:12])) for _ in range(44)]
        regular += [john, marta_old, marta_new, *special[:3]]
        occasional = [P("occasional", rng.choice(list(ORGS))) for _ in range(98)] + special[3:]
        tail = [P("tail", rng.choice(list(ORGS))) for _ in range(52)]
        for c in special[3:]:
            c.role = "occasional"
        by_org: dict[str, list[Contact]] = {}
        for c in close + regular + occasional:  # not the quiet: nobody copies them in any more
            if c.org != "gmail.com" and c is not marta_old:
                by_org.setdefault(c.org, []).append(c)

        def peers(c: Contact) -> list[Contact]:
            return [x for x in by_org.get(c.org, []) if x is not c]

        for c in close:
            self.conversations(
                c, S + rng.randint(0, 90) * DAY, A, 8, (1, 2, 2, 3, 3, 4, 5), peers(c)
            )
        quiet_ends = [A - rng.randint(190, 350) * DAY for _ in quiet]
        for c, end in zip(quiet, quiet_ends, strict=True):
            self.conversations(c, S + rng.randint(0, 30) * DAY, end, 8, (2, 2, 3, 3, 4), peers(c))
        for c in regular:
            if c is john:
                self.conversations(c, S, A, 30, (1, 2, 2, 3), personal=True, varied=0.4)
                continue
            lo = S + rng.randint(0, 300) * DAY
            hi = A - rng.choice((1, 3, 7, 14, 30, 60, 120)) * DAY
            if c is marta_old:  # she changed jobs: two addresses, two people
                lo, hi = S, A - 420 * DAY
            elif c is marta_new:
                lo, hi = A - 380 * DAY, A - rng.randint(3, 20) * DAY
            self.conversations(c, lo, hi, rng.uniform(30, 60), (1, 2, 2, 3), peers(c))
        for c in occasional:
            for _ in range(rng.randint(2, 5)):
                size, first = rng.choice((1, 1, 2, 2, 3)), rng.random() < 0.6
                self.thread(c, self.when(S, A, c.tz), size, first, self.subject())
        for i, c in enumerate(tail):  # once: mine unanswered, theirs unanswered, an exchange
            at = self.when(S, A, c.tz)
            cold = rng.choice(("Introduction", "Partnership idea", "Speaking opportunity"))
            self.thread(c, at, 1 + (i % 3 == 2), i % 3 != 1, cold if i % 3 == 1 else self.subject())
        self.introductions(regular, occasional)
        self.automated(close + regular + occasional)
        self.mass_mail(close + regular, occasional)
        self.skipped(close + regular + occasional)
        self.calendar(close, quiet, quiet_ends, regular, occasional, john)
        self.quiet = [c.address for c in quiet]
        self.my_introductions(occasional)  # last: everything before stays as it was

    def my_introductions(self, occasional: list[Contact]) -> None:
        """Two introductions I made between people who never shared a message: the first
        answered by the two (they connected), the second, three weeks ago, not yet."""
        A = self.anchor
        pairs = [(occasional[10], occasional[11]), (occasional[20], occasional[21])]
        for (a, b), days_ago, answered in zip(pairs, (75, 21), (True, False), strict=True):
            at = A - days_ago * DAY + 10 * 3600 - (A % DAY)
            subject = f"Intro: {a.name} <> {b.name}"
            m = self.mail(self.me(), [self.addr(a), self.addr(b)], subject, at)
            if answered:
                self.mail(self.addr(b), [self.addr(a)], "Re: " + subject, at + DAY,
                          cc=[self.me()], reply=m)  # fmt: skip

    def introductions(self, regular: list[Contact], occasional: list[Contact]) -> None:
        """Introductions (the introducer moves to Bcc) and mail I was only Bcc'd on."""
        rng, A, S = self.rng, self.anchor, self.start
        for k in range(4):
            a, b = regular[k * 3], self.person("tail", rng.choice(list(ORGS)))
            at = self.when(S, A - 30 * DAY, a.tz)
            subject = f"Intro: {PERSONA} <> {b.name}"
            m = self.mail(self.addr(a), [self.addr(b)], subject, at, cc=[self.me()])
            at += self.gap()
            m = self.mail(
                self.me(), [self.addr(b)], "Re: " + subject, at, bcc=[self.addr(a)], reply=m
            )
            self.mail(self.addr(b), [self.me()], "Re: " + subject, at + self.gap(), reply=m)
        for c in occasional[:3]:  # my copy shows only the visible recipient
            other = self.stranger("foundry-ventures.example")
            self.mail(
                self.addr(c), [other], "Proposal for the pilot", self.when(S, A, c.tz), kind="other"
            )

    def automated(self, contacts: list[Contact]) -> None:
        """Newsletters, notifications, bounces, auto-replies, read receipts, list posts."""
        rng, A, S = self.rng, self.anchor, self.start
        for name, address, every, headers in AUTOMATED:
            self.excluded.add(address)
            extra = [tuple(h.strip().split("=", 1)) for h in headers.split(";") if h.strip()]
            t, every = S + rng.randint(0, int(every)) * DAY, int(every) * DAY
            while t < A - DAY:
                folder = rng.choice(("INBOX", "INBOX", "Archive", "Trash"))
                at = self.when(t, t + DAY, LONDON, weekend=1.0)
                issue = f"{datetime.fromtimestamp(at, UTC):%d %b %Y}" if extra else "your account"
                subject = f"{name}: {issue}"
                self.mail(
                    (name, address),
                    [self.me()],
                    subject,
                    at,
                    extra=extra,
                    folders=[folder],
                    kind="bulk",
                )
                t += every
        for k in range(10):
            name, address = DAEMONS[k % 3]
            self.excluded.add(address.lower())
            extra = [("Auto-Submitted", "auto-replied")]
            subject, at = "Undelivered Mail Returned to Sender", self.when(S, A, LONDON)
            self.mail(
                (name, address),
                [self.me(k % 3 == 1)],
                subject,
                at,
                extra=extra,
                return_path="<>",
                folders=["INBOX"],
                kind="bulk",
            )
        for c in rng.sample(contacts, 14):  # out-of-office replies from real contacts
            extra = [("Auto-Submitted", "auto-replied")]
            subject = "Automatic reply: " + self.subject()
            self.mail(
                self.addr(c), [self.me()], subject, self.when(S, A, c.tz), extra=extra, kind="bulk"
            )
        for c in rng.sample(contacts, 4):  # read receipts: a null Return-Path
            subject = "Read: " + self.subject()
            self.mail(
                self.addr(c),
                [self.me()],
                subject,
                self.when(S, A, c.tz),
                return_path="<>",
                kind="bulk",
            )
        posters = rng.sample(contacts, 8)
        self.excluded.add(LIST[1])
        for _ in range(40):  # a discussion list; posters sometimes Cc me
            c = rng.choice(posters)
            cc = [self.me()] if rng.random() < 0.3 else []
            subject, at = "[ops-society] " + self.subject(), self.when(S, A, c.tz)
            self.mail(self.addr(c), [LIST], subject, at, cc=cc, extra=LIST_HEADERS, kind="bulk")

    def mass_mail(self, known: list[Contact], occasional: list[Contact]) -> None:
        """A broadcast each way (no touchpoints), a 20-recipient message (counts), notes to self."""
        rng, A = self.rng, self.anchor
        only = [self.stranger(rng.choice(list(ORGS)[10:])) for _ in range(16)]
        self.broadcast_only = [a for _, a in only]
        crowd = [self.addr(c) for c in rng.sample(known[6:] + occasional, 8)] + only
        rng.shuffle(crowd)
        at = self.when(A - 200 * DAY, A - 150 * DAY, LONDON)
        subject = "Whitfield Consulting has moved"
        self.mail(self.me(), crowd[:12], subject, at, cc=crowd[12:], kind="broadcast")
        organiser = self.stranger("opssummit.example", "helen.marsh", "Helen Marsh")
        crowd = [self.stranger("opssummit.example") for _ in range(25)] + [self.me()]
        at = self.when(A - 300 * DAY, A - 250 * DAY, LONDON)
        self.mail(organiser, crowd, "Ops Summit: speakers' briefing", at, kind="broadcast")
        twenty = [self.addr(c) for c in rng.sample(known, BROADCAST_THRESHOLD)]
        at = self.when(A - 90 * DAY, A - 60 * DAY, LONDON)
        self.mail(self.me(), twenty, "Save the date: five years of Whitfield", at)
        for _ in range(5):
            to = (PERSONA, rng.choice((PERSONAL, *PERSONA_VARIANTS)))
            at = self.when(self.start, A, LONDON)
            self.mail(self.me(), [to], "Note to self: " + self.subject(), at)

    def skipped(self, contacts: list[Contact]) -> None:
        """Drafts and spam: copies in skipped folders yield nothing."""
        rng, A, S = self.rng, self.anchor, self.start
        for k in range(24):
            to = (
                self.addr(rng.choice(contacts))
                if k % 4
                else self.stranger("atlas-recruiting.example")
            )
            self.mail(
                self.me(),
                [to],
                self.subject(),
                self.when(S, A, LONDON),
                folders=["Drafts"],
                kind="skipped",
            )
        spam = rows("""
            deals-4u.example | You have been selected
            crypto-yield.example | Invoice overdue!!
            pharma-direct.example | Re: your account
            prize-centre.example | Limited offer
        """)
        for k in range(40):
            domain, subject = spam[k % 4]
            sender = self.stranger(domain, rng.choice(("info", "ceo.office", "winner", "sales")))
            at = self.when(S, A, LONDON, weekend=1.0)
            self.mail(sender, [self.me(k % 2 == 1)], subject, at, folders=["Spam"], kind="skipped")
        c = rng.choice(contacts)  # a real message filed as spam is still skipped
        at = self.when(S, A, c.tz)
        self.mail(self.addr(c), [self.me()], self.subject(), at, folders=["Spam"], kind="skipped")

    def calendar(self, close, quiet, quiet_ends, regular, occasional, john) -> None:
        """Recurring, one-off, cancelled, declined, oversized and upcoming meetings."""
        rng, A, S = self.rng, self.anchor, self.start
        priya, tom = close[0], close[1]
        room = ("Harbour Room", "room-harbour@northwind-logistics.example")

        def slot(epoch: int, tz: ZoneInfo, hour: int, weekday: int) -> datetime:
            d = datetime.fromtimestamp(epoch, tz).date()
            d += timedelta(days=(weekday - d.weekday()) % 7)
            return datetime(d.year, d.month, d.day, hour, tzinfo=tz)

        # A weekly 1:1 with no end: holidays excluded, one instance moved.
        start = slot(S + 100 * DAY, LONDON, 10, weekday=1)
        one = self.event(
            "1:1 Dana / Priya",
            start,
            30,
            self.me(),
            [self.addr(priya)],
            rrule={"freq": "weekly"},
            location="Video call",
            counts=False,
        )
        weeks = [start + timedelta(weeks=k) for k in range(110)]
        one.exdates = [
            w for w in weeks if (w.month, w.day) >= (12, 22) or (w.month, w.day) <= (1, 3)
        ]
        moved = weeks[40] + timedelta(days=1, hours=3)
        one.overrides[weeks[40]] = (moved, moved + timedelta(minutes=30), "CONFIRMED")
        self.count_event(one)
        # A fortnightly call organised by Tom, 30 occurrences.
        start = slot(S + 160 * DAY, LONDON, 16, weekday=3)
        rrule = {"freq": "weekly", "interval": 2, "count": 30}
        self.event("Harbourline check-in", start, 45, self.addr(tom), [self.addr(tom)], rrule=rrule)
        # A monthly steering meeting (first Thursday) in a room; one instance cancelled.
        team = [priya, close[3], *[c for c in regular if c.org == priya.org][:3]]
        start = slot(S + 40 * DAY, LONDON, 14, weekday=3)
        start -= timedelta(weeks=(start.day - 1) // 7)
        rrule = {"freq": "monthly", "until": datetime.fromtimestamp(A + 150 * DAY, UTC)}
        steer = self.event(
            "Northwind ops steering",
            start,
            60,
            self.addr(priya),
            [self.addr(c) for c in team],
            rooms=[room],
            rrule=rrule,
            location=room[0],
            counts=False,
        )
        off = self.instances(steer)[9][0]
        steer.overrides[off] = (off, off + timedelta(hours=1), "CANCELLED")
        self.count_event(steer)
        # The quiet ties: a fortnightly call that stopped; a lunch ahead with another.
        qc = quiet[0]
        until = datetime.fromtimestamp(quiet_ends[0] - DAY, UTC)
        rrule = {"freq": "weekly", "interval": 2, "until": until}
        start = slot(S + 20 * DAY, qc.tz, 11, weekday=2)
        self.event("Meridian sync", start, 30, self.addr(qc), [self.addr(qc)], rrule=rrule)
        self.meet(quiet[1], A + 5 * DAY, A + 20 * DAY, "Lunch", 90)
        # One-off meetings: working sessions, calls, coffees; some I was invited to.
        for c, end in [(c, A) for c in close] + [(quiet[2], quiet_ends[2])]:
            for _ in range(rng.randint(3, 8)):
                summary = rng.choice(("Working session", "Lunch", "Review"))
                self.meet(c, S, end, summary, 60, invited=rng.random() < 0.4)
        for c in regular:
            if c is john:
                for _ in range(3):
                    self.meet(c, S, A, "Dinner", 120, personal=True, invited=True)
                continue
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                rooms = [room] if c.org == priya.org and rng.random() < 0.5 else []
                summary = rng.choice(("Call", "Coffee", "Workshop prep"))
                self.meet(c, S, A, summary, 45, invited=rng.random() < 0.3, rooms=rooms)
        for c in rng.sample(occasional, 20):
            self.meet(c, S, A, rng.choice(("Intro call", "Coffee")), 30, invited=rng.random() < 0.5)
        for c in rng.sample(regular, 4):
            self.meet(c, A + DAY, A + 25 * DAY, "Catch-up", 30)
        # A workshop with people I only ever met there.
        crew = [self.person("meeting-only", "city-university.example") for _ in range(8)]
        self.meet(crew, A - 250 * DAY, A - 240 * DAY, "Ops leadership workshop", 180, invited=True)
        # A first meeting still ahead: not a person yet.
        newbie = self.person("upcoming-only", "bramble-labs.example")
        self.meet(newbie, A + 3 * DAY, A + 10 * DAY, "Intro: Bramble Labs", 30)
        # Nothing counts for these: cancelled, declined, too large, nobody else, all-day.
        ghosts = [self.stranger("silverline-media.example") for _ in range(2)]
        start = slot(A - 45 * DAY, LONDON, 15, weekday=2)
        self.event("Podcast recording", start, 60, self.me(), ghosts, status="CANCELLED")
        host = self.stranger("brightwater-partners.example", "gareth", "Gareth Pryce")
        guests = [host, self.stranger("brightwater-partners.example")]
        start = slot(A - 80 * DAY, LONDON, 12, weekday=4)
        self.event("Partners' lunch", start, 90, host, guests, me_status="DECLINED")
        crowd = [self.stranger("opssummit.example") for _ in range(24)]
        start = slot(A - 280 * DAY, LONDON, 9, weekday=2)
        self.event("Ops Summit roundtable", start, 120, crowd[0], crowd)
        self.event("Focus time", slot(A - 10 * DAY, LONDON, 9, weekday=0), 120, self.me(), [])
        d = datetime.fromtimestamp(A - 120 * DAY, UTC).date()
        start = datetime(d.year, d.month, d.day)
        self.event("Ops Summit (conference)", start, 2 * 1440, self.me(), [], all_day=True)


def _local_part(first: str, last: str, style: str) -> str:
    first, last = first.lower(), last.lower().replace("'", "").replace(" ", "")
    styles = {"first": first, "flast": first[0] + last, "first_last": f"{first}_{last}"}
    return styles.get(style, f"{first}.{last}")


def generate(out_dir: Path, anchor: int, seed: int = SEED) -> Manifest:
    """Write the network ending at ``anchor`` into ``out_dir`` (``mail/*``, ``calendar.ics``)."""
    b = _Builder(anchor, seed)
    b.build()
    mail_dir = Path(out_dir) / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    folders: dict[str, list[tuple[int, bytes]]] = {f: [] for f in MAIL_FOLDERS}
    logical = duplicates = alt_copies = 0
    for m in b.mails:
        for folder in m.folders:
            folders[folder].append((m.at, message_bytes(m, folder)))
        kept = [f for f in m.folders if f not in SKIPPED_FOLDERS]
        logical += bool(kept)
        duplicates += max(len(kept) - 1, 0)
        alt_copies += len(m.alt_ids)
    for folder, entries in folders.items():
        entries.sort(key=lambda e: e[0])
        write_file(mail_dir / folder, b"".join(data for _, data in entries))
    calendar_path = Path(out_dir) / "calendar.ics"
    write_file(calendar_path, calendar_bytes(b.events, b.start, b.anchor))
    john = b.contacts["johnsmith@gmail.com"]
    return Manifest(
        persona=PERSONA,
        addresses=PERSONA_ADDRESSES,
        persona_forms=ME_FORMS,
        anchor=anchor,
        mail_dir=mail_dir,
        calendar_path=calendar_path,
        folders={f: len(e) for f, e in folders.items()},
        copies=sum(len(e) for e in folders.values()),
        logical=logical,
        counted=b.tally["counted"],
        bulk=b.tally["bulk"],
        broadcast=b.tally["broadcast"],
        skipped_only=b.tally["skipped"],
        duplicate_copies=duplicates,
        alt_id_copies=alt_copies,
        events=len(b.events),
        meetings_held=b.tally["held"],
        meetings_upcoming=b.tally["upcoming"],
        contacts=b.contacts,
        excluded=frozenset(b.excluded),
        broadcast_only=tuple(b.broadcast_only),
        quiet=tuple(b.quiet),
        gmail_variants=(john.address, *john.variants),
    )
