"""Per-person aggregates of touchpoints, computed in SQL and cached in ``rules_people``.

A person's aggregates are the design.md §2 rule 11 figures (touches in, out,
meetings, first and last touch, per kind) plus the score sums
``Σ 2 ** (at · k)`` over given and received touches (see :mod:`rules.tiers`)
and the next upcoming meeting, all *as of* an instant ``now``: touchpoints
after ``now`` only count as upcoming meetings.

Single-address people (nearly everyone) come straight from one SQL
``GROUP BY address, kind`` over the covering index ``touchpoints_cover``;
people with several addresses are summed in Python with each logical message
counted once. Both paths are used identically by full and incremental
evaluation, so they give bit-identical results.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields

import sqlite_utils

from rules.tiers import rank_score
from syncd.store.db import select_in

PARALLEL_MIN_ADDRESSES = 4000


@dataclass(slots=True)
class Aggregates:
    """One person's touch figures as of an instant."""

    person_id: int
    n_in: int = 0
    n_out: int = 0
    n_meet: int = 0
    first_in: int | None = None
    last_in: int | None = None
    first_out: int | None = None
    last_out: int | None = None
    first_meet: int | None = None
    last_meet: int | None = None
    given: float = 0.0
    received: float = 0.0
    next_meeting: int | None = None

    @property
    def touches(self) -> int:
        """All past touchpoints (logical messages and meetings)."""
        return self.n_in + self.n_out + self.n_meet

    @property
    def exchanges(self) -> int:
        """Two-way exchanges, the strength of the tie: meetings plus matched pairs of
        inbound and outbound mail."""
        return min(self.n_in, self.n_out) + self.n_meet

    @property
    def first_touch(self) -> int | None:
        """The earliest past touchpoint."""
        best = None
        for v in (self.first_in, self.first_out, self.first_meet):
            if v is not None and (best is None or v < best):
                best = v
        return best

    @property
    def last_touch(self) -> int | None:
        """The latest past touchpoint."""
        best = None
        for v in (self.last_in, self.last_out, self.last_meet):
            if v is not None and (best is None or v > best):
                best = v
        return best

    def fold(self, kind: str, n: int, first: int, last: int, wsum: float) -> None:
        """Add one ``(kind, count, first, last, Σ 2^(at·k))`` group."""
        if kind == "email_in":
            self.n_in, self.first_in, self.last_in = n, first, last
            self.received += wsum
        elif kind == "email_out":
            self.n_out, self.first_out, self.last_out = n, first, last
            self.given += wsum
        elif kind == "meeting":
            self.n_meet, self.first_meet, self.last_meet = n, first, last
            self.given += wsum
            self.received += wsum

    def row(self) -> tuple:
        """The cached columns, in :data:`COLUMNS` order (the field order)."""
        return (
            self.person_id,
            self.n_in,
            self.n_out,
            self.n_meet,
            self.first_in,
            self.last_in,
            self.first_out,
            self.last_out,
            self.first_meet,
            self.last_meet,
            self.given,
            self.received,
            self.next_meeting,
        )


COLUMNS = tuple(f.name for f in fields(Aggregates))


def _db_file(db: sqlite_utils.Database) -> str | None:
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


_GROUP_SQL = (
    "SELECT address, kind, count(*), min(at), max(at), sum(pow(2.0, at * ?))"
    " FROM touchpoints INDEXED BY touchpoints_cover WHERE {where} AND at <= ?"
    " GROUP BY address, kind"
)


def _grouped_all(
    db: sqlite_utils.Database, now: int, k: float, bounds: list[str], parallel: bool
) -> list[tuple]:
    """The per-address groups of every address, split over threads by address range.

    Threads read through their own connections, so ``parallel`` must only be set
    when this connection has no uncommitted writes.
    """
    path = _db_file(db) if parallel else None
    ranges = list(itertools.pairwise(bounds))
    if path is None or len(ranges) < 2:
        sql = _GROUP_SQL.format(where="1")
        return db.execute(sql, [k, now]).fetchall()
    sql = _GROUP_SQL.format(where="address >= ? AND address < ?")
    results: list[list[tuple] | BaseException] = [[] for _ in ranges]

    def work(i: int, lo: str, hi: str) -> None:
        try:
            conn = sqlite3.connect(path, timeout=30)
            try:
                results[i] = conn.execute(sql, [k, lo, hi, now]).fetchall()
            finally:
                conn.close()
        except BaseException as exc:  # re-raised in the caller
            results[i] = exc

    threads = [
        threading.Thread(target=work, args=(i, lo, hi), daemon=True)
        for i, (lo, hi) in enumerate(ranges)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out: list[tuple] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        out.extend(r)
    return out


def _grouped_some(db: sqlite_utils.Database, now: int, k: float, addresses: list[str]) -> list:
    sql = _GROUP_SQL.format(where="address IN (?...)")
    return list(select_in(db, sql, addresses, before=(k,), after=(now,)))


def _upcoming(db: sqlite_utils.Database, now: int, addresses: list[str] | None) -> list[tuple]:
    if addresses is None:
        return db.execute(
            "SELECT address, min(at) FROM touchpoints INDEXED BY touchpoints_at"
            " WHERE at > ? AND kind = 'meeting' GROUP BY address",
            [now],
        ).fetchall()
    return list(
        select_in(
            db,
            "SELECT address, min(at) FROM touchpoints INDEXED BY touchpoints_cover"
            " WHERE address IN (?...) AND kind = 'meeting' AND at > ? GROUP BY address",
            addresses,
            after=(now,),
        )
    )


def _exact(
    db: sqlite_utils.Database, now: int, k: float, people: list[int]
) -> dict[int, Aggregates]:
    """Aggregates of people with several addresses: each (kind, ref) counts once."""
    rows: dict[int, dict[tuple[str, int], int]] = defaultdict(dict)
    for pid, kind, ref, at in select_in(
        db,
        "SELECT a.person_id, t.kind, t.ref, t.at FROM addresses a"
        " JOIN touchpoints t ON t.address = a.address WHERE a.person_id IN (?...)",
        people,
    ):
        rows[pid][(kind, ref)] = at
    out: dict[int, Aggregates] = {}
    for pid in people:
        agg = Aggregates(pid)
        groups: dict[str, list[int]] = defaultdict(list)
        for (kind, _), at in rows.get(pid, {}).items():
            if at > now:
                if kind == "meeting" and (agg.next_meeting is None or at < agg.next_meeting):
                    agg.next_meeting = at
                continue
            groups[kind].append(at)
        for kind in sorted(groups):
            times = sorted(groups[kind])
            wsum = 0.0
            for at in times:
                wsum += 2.0 ** (at * k)
            agg.fold(kind, len(times), times[0], times[-1], wsum)
        out[pid] = agg
    return out


def scan(
    db: sqlite_utils.Database,
    now: int,
    k: float,
    people: Iterable[int] | None = None,
    parallel: bool = False,
) -> dict[int, Aggregates]:
    """Aggregates as of ``now`` for ``people`` (default: everyone with an address).

    People without any touchpoint get empty aggregates (so a caller can drop them).
    ``parallel`` lets a full scan use two reader threads (see :func:`_grouped_all`).
    """
    if people is None:
        pairs = db.execute("SELECT address, person_id FROM addresses ORDER BY address").fetchall()
    else:
        pairs = list(
            select_in(
                db,
                "SELECT address, person_id FROM addresses WHERE person_id IN (?...)",
                sorted(set(people)),
            )
        )
    count: dict[int, int] = defaultdict(int)
    for _, pid in pairs:
        count[pid] += 1
    multi = sorted(p for p, n in count.items() if n > 1)
    out: dict[int, Aggregates] = {}
    if people is None:
        addresses = [a for a, _ in pairs]
        parts = 2 if len(addresses) >= PARALLEL_MIN_ADDRESSES else 1
        bounds = [""] + [addresses[len(addresses) * i // parts] for i in range(1, parts)]
        bounds.append("\U0010ffff")
        groups = _grouped_all(db, now, k, bounds, parallel)
        upcoming = _upcoming(db, now, None)
    else:
        single = sorted(a for a, p in pairs if count[p] == 1)
        groups = _grouped_some(db, now, k, single)
        upcoming = _upcoming(db, now, single)
    # single-address people: their one address's groups are their aggregates
    single_of = {a: p for a, p in pairs if count[p] == 1}
    for address, kind, n, first, last, wsum in groups:
        pid = single_of.get(address)
        if pid is None:
            continue
        agg = out.get(pid)
        if agg is None:
            agg = out[pid] = Aggregates(pid)
        agg.fold(kind, n, first, last, wsum)
    for address, at in upcoming:
        pid = single_of.get(address)
        if pid is None:
            continue
        agg = out.get(pid)
        if agg is None:
            agg = out[pid] = Aggregates(pid)
        agg.next_meeting = at
    out.update(_exact(db, now, k, multi))
    for pid in count:
        out.setdefault(pid, Aggregates(pid))
    return out


# -- the cache -----------------------------------------------------------------

BULK_ROWS = 5000


@contextlib.contextmanager
def bulk_writes(db: sqlite_utils.Database, table: str, rows: int) -> Iterator[None]:
    """For many ``rows``: drop ``table``'s secondary indexes, write, rebuild them.

    Rebuilding an index sorts once, which beats thousands of scattered index
    inserts. Readers on other connections keep their snapshot (WAL), and the
    caller's transaction makes it all or nothing.
    """
    if rows < BULK_ROWS:
        yield
        return
    saved = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        [table],
    ).fetchall()
    for name, _ in saved:
        db.execute(f'DROP INDEX "{name}"')
    yield
    for _, sql in saved:
        db.execute(sql)


@dataclass(slots=True)
class Cached:
    """A cached person: aggregates plus the tier and re-check instant of the last evaluation."""

    agg: Aggregates
    tier: str
    next_check: int | None


def load_cache(db: sqlite_utils.Database, people: Iterable[int] | None = None) -> dict[int, Cached]:
    """Cached rows for ``people`` (default: all)."""
    cols = ", ".join(COLUMNS)
    sql = f"SELECT {cols}, tier, next_check FROM rules_people"
    out: dict[int, Cached] = {}
    n = len(COLUMNS)

    def add(rows: Iterable[tuple]) -> None:
        for row in rows:
            out[row[0]] = Cached(Aggregates(*row[:n]), row[n], row[n + 1])

    if people is None:
        add(db.execute(sql))
    else:
        add(select_in(db, f"{sql} WHERE person_id IN (?...)", sorted(set(people))))
    return out


def load_ranking_inputs(db: sqlite_utils.Database) -> list[tuple[int, float, float, int, str]]:
    """``(person, given, received, last_touch, tier)`` of every cached person."""
    return db.execute(
        "SELECT person_id, given, received, last_touch, tier FROM rules_people"
    ).fetchall()


def top_ranked(db: sqlite_utils.Database, limit: int) -> list[int]:
    """The ``limit`` best-ranked cached people (score, then later last touch, then lower id)."""
    return [
        p
        for (p,) in db.execute(
            "SELECT person_id FROM rules_people INDEXED BY rules_people_rank WHERE rank > 0"
            " ORDER BY rank DESC, last_touch DESC, person_id LIMIT ?",
            [limit],
        )
    ]


def rank_position(
    db: sqlite_utils.Database, person: int, excluded: set[int] | frozenset[int]
) -> tuple[int | None, int]:
    """``(position, ranked)``: ``person``'s 1-based place in the ranking of cached people
    with a positive score (score, then later last touch, then lower id; the order
    :func:`top_ranked` reads) leaving out ``excluded``, and how many people that ranking
    holds. ``position`` is None for an excluded or unscored person. Two counts over the
    ``rules_people_rank`` index, not a sort of everyone."""
    ranked = db.execute(
        "SELECT count(*) FROM rules_people INDEXED BY rules_people_rank WHERE rank > 0"
    ).fetchone()[0]
    left_out: list[tuple[int, float, int]] = list(
        select_in(
            db,
            "SELECT person_id, rank, last_touch FROM rules_people"
            " WHERE person_id IN (?...) AND rank > 0",
            sorted(excluded),
        )
    )
    ranked -= len(left_out)
    row = db.execute(
        "SELECT rank, last_touch FROM rules_people WHERE person_id = ?", [person]
    ).fetchone()
    if person in excluded or row is None or row[0] <= 0:
        return None, ranked
    rank, last = row
    ahead = db.execute(
        "SELECT count(*) FROM rules_people INDEXED BY rules_people_rank WHERE rank > 0"
        " AND (rank > :r OR (rank = :r AND (last_touch > :t OR (last_touch = :t"
        " AND person_id < :p))))",
        {"r": rank, "t": last, "p": person},
    ).fetchone()[0]
    ahead -= sum(1 for q, r, t in left_out if (r, t, -q) > (rank, last, -person))
    return ahead + 1, ranked


def tiered(db: sqlite_utils.Database) -> dict[int, str]:
    """Cached people whose tier is not acquaintance."""
    return dict(
        db.execute(
            "SELECT person_id, tier FROM rules_people INDEXED BY rules_people_tiered"
            " WHERE tier != 'acquaintance'"
        ).fetchall()
    )


def cached_people(db: sqlite_utils.Database, people: Iterable[int]) -> set[int]:
    """Which of ``people`` have a cache row."""
    return {
        p
        for (p,) in select_in(
            db, "SELECT person_id FROM rules_people WHERE person_id IN (?...)", sorted(set(people))
        )
    }


def save_cache(
    db: sqlite_utils.Database,
    aggs: Iterable[Aggregates],
    tiers: dict[int, str],
    next_check: dict[int, int | None],
    ranks: dict[int, float] | None = None,
) -> None:
    """Upsert cached aggregates (with rank, tier and next check) for ``aggs``."""
    ranks = ranks or {}
    cols = (*COLUMNS, "last_touch", "rank", "tier", "next_check")
    marks = ",".join("?" * len(cols))
    rows = [
        (
            *a.row(),
            a.last_touch or 0,
            ranks.get(a.person_id) or (rank_score(a.given, a.received) if a.touches else 0.0),
            tiers.get(a.person_id, "acquaintance"),
            next_check.get(a.person_id),
        )
        for a in sorted(aggs, key=lambda a: a.person_id)
    ]
    with bulk_writes(db, "rules_people", len(rows)):
        db.conn.executemany(
            f"INSERT OR REPLACE INTO rules_people({', '.join(cols)}) VALUES ({marks})", rows
        )


def set_tiers(db: sqlite_utils.Database, tiers: dict[int, str]) -> None:
    """Store new tiers."""
    db.conn.executemany(
        "UPDATE rules_people SET tier = ? WHERE person_id = ?", [(t, p) for p, t in tiers.items()]
    )


def set_next_checks(db: sqlite_utils.Database, checks: dict[int, int | None]) -> None:
    """Store re-check instants."""
    db.conn.executemany(
        "UPDATE rules_people SET next_check = ? WHERE person_id = ?",
        [(c, p) for p, c in checks.items()],
    )


def clear_cache(db: sqlite_utils.Database) -> None:
    """Forget every cached person (a cold evaluation stores them all again)."""
    db.execute("DELETE FROM rules_people")


def drop_cache(db: sqlite_utils.Database, people: Iterable[int]) -> None:
    """Forget cached people (no touchpoints any more, or merged away)."""
    db.conn.executemany("DELETE FROM rules_people WHERE person_id = ?", [(p,) for p in people])
