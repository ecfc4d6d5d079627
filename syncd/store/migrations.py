"""The store's schema, as versioned migrations (sqlite-utils ``Migrations``).

Each ``mNNN_*`` function runs once per store, in order, when
:func:`syncd.store.db.open_db` opens it; the schema is spelled out here and
nowhere else.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from syncd.core.keys import key64

migrations = Migrations("syncd")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """The foundation schema."""
    db.executescript(
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            address TEXT,
            settings TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE TABLE cursors (
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            PRIMARY KEY (account_id, scope)
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            canonical_hash TEXT NOT NULL,
            sender TEXT,
            sent_at INTEGER,
            subject TEXT NOT NULL DEFAULT '',
            recipients TEXT NOT NULL,
            bulk TEXT,
            signals TEXT,
            copies INTEGER NOT NULL DEFAULT 1,
            in_reply_to TEXT,
            thread_root TEXT,
            names TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE message_keys (
            key TEXT PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id)
        ) WITHOUT ROWID;
        CREATE INDEX message_keys_message ON message_keys(message_id);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            folder TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            locator TEXT NOT NULL,
            headers TEXT NOT NULL,
            labels TEXT,
            received_at INTEGER,
            skipped TEXT,
            message_id INTEGER REFERENCES messages(id),
            UNIQUE (account_id, folder, content_hash)
        );
        CREATE INDEX observations_message ON observations(message_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            version TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            status TEXT NOT NULL,
            organizer TEXT,
            attendees TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            all_day INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX events_source ON events(account_id, scope, key);
        CREATE INDEX events_key ON events(key);
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT,
            tier_pin TEXT,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE TABLE addresses (
            address TEXT PRIMARY KEY,
            match_key TEXT NOT NULL,
            person_id INTEGER NOT NULL REFERENCES people(id),
            name TEXT
        ) WITHOUT ROWID;
        CREATE INDEX addresses_key ON addresses(match_key);
        CREATE INDEX addresses_person ON addresses(person_id);
        CREATE TABLE my_addresses (
            match_key TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            source TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE touchpoints (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            ref INTEGER NOT NULL,
            address TEXT NOT NULL REFERENCES addresses(address),
            at INTEGER NOT NULL,
            name TEXT
        );
        CREATE INDEX touchpoints_ref ON touchpoints(kind, ref);
        CREATE INDEX touchpoints_address ON touchpoints(address, at);
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            locator TEXT NOT NULL,
            reason TEXT NOT NULL,
            excerpt BLOB,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            UNIQUE (account_id, scope, locator)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m002_rules_and_flags(db: sqlite_utils.Database) -> None:
    """Rules engine state: flags, a per-person aggregate cache and change tracking.

    Triggers record which addresses / people changed since the last rules
    evaluation (``rules_dirty*``), so evaluation is incremental without the
    writers knowing about it. ``rules_people`` caches per-person aggregates as
    of the last evaluation instant; ``flags`` holds every finding with its
    lifecycle (id = ``rule:person:cycle``, deterministic).
    """
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS touchpoints_cover ON touchpoints(address, kind, at);
        CREATE INDEX IF NOT EXISTS touchpoints_at ON touchpoints(at);
        CREATE TABLE rules_dirty (address TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE rules_dirty_people (person_id INTEGER PRIMARY KEY);
        CREATE TABLE rules_people (
            person_id INTEGER PRIMARY KEY,
            n_in INTEGER NOT NULL,
            n_out INTEGER NOT NULL,
            n_meet INTEGER NOT NULL,
            first_in INTEGER, last_in INTEGER,
            first_out INTEGER, last_out INTEGER,
            first_meet INTEGER, last_meet INTEGER,
            given REAL NOT NULL,
            received REAL NOT NULL,
            next_meeting INTEGER,
            tier TEXT NOT NULL DEFAULT 'acquaintance',
            next_check INTEGER
        );
        CREATE INDEX rules_people_next_check ON rules_people(next_check)
            WHERE next_check IS NOT NULL;
        CREATE TABLE flags (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            cycle TEXT NOT NULL,
            due INTEGER NOT NULL,
            expires INTEGER,
            facts TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'dismissed')),
            snoozed_until INTEGER,
            resolution TEXT,
            resolved_at INTEGER,
            first_seen INTEGER NOT NULL,
            updated INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX flags_person ON flags(person_id, rule);
        CREATE INDEX flags_status ON flags(status, due);
        CREATE TRIGGER rules_touch_insert AFTER INSERT ON touchpoints BEGIN
            INSERT OR IGNORE INTO rules_dirty(address) VALUES (new.address);
        END;
        CREATE TRIGGER rules_touch_delete AFTER DELETE ON touchpoints BEGIN
            INSERT OR IGNORE INTO rules_dirty(address) VALUES (old.address);
        END;
        CREATE TRIGGER rules_touch_update AFTER UPDATE ON touchpoints BEGIN
            INSERT OR IGNORE INTO rules_dirty(address) VALUES (old.address), (new.address);
        END;
        CREATE TRIGGER rules_address_moved AFTER UPDATE OF person_id ON addresses BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id)
                VALUES (old.person_id), (new.person_id);
        END;
        CREATE TRIGGER rules_pin_changed AFTER UPDATE OF tier_pin ON people BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (new.id);
        END;
        CREATE TRIGGER rules_person_deleted AFTER DELETE ON people BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (old.id);
        END;
        """
    )


@migrations()
def m003_account_state(db: sqlite_utils.Database) -> None:
    """Per-account sync state: last run, its result, backoff and the need for ``syncd auth``."""
    db.executescript(
        """
        CREATE TABLE account_state (
            account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            last_started TEXT,
            last_finished TEXT,
            last_result TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            retry_after TEXT,
            needs_auth INTEGER NOT NULL DEFAULT 0,
            items INTEGER NOT NULL DEFAULT 0
        );
        """
    )


@migrations()
def m004_rules_ranking(db: sqlite_utils.Database) -> None:
    """Rules cache v2: each person's rank score is stored and indexed.

    Tiers then come from the top of one index instead of re-ranking everyone,
    which keeps incremental evaluation cheap. The cache is rebuilt on the next
    evaluation (it only holds derived data).
    """
    db.executescript(
        """
        DROP TABLE IF EXISTS rules_people;
        CREATE TABLE rules_people (
            person_id INTEGER PRIMARY KEY,
            n_in INTEGER NOT NULL,
            n_out INTEGER NOT NULL,
            n_meet INTEGER NOT NULL,
            first_in INTEGER, last_in INTEGER,
            first_out INTEGER, last_out INTEGER,
            first_meet INTEGER, last_meet INTEGER,
            given REAL NOT NULL,
            received REAL NOT NULL,
            next_meeting INTEGER,
            last_touch INTEGER NOT NULL DEFAULT 0,
            rank REAL NOT NULL DEFAULT 0,
            tier TEXT NOT NULL DEFAULT 'acquaintance',
            next_check INTEGER
        );
        CREATE INDEX rules_people_rank ON rules_people(rank DESC, last_touch DESC, person_id)
            WHERE rank > 0;
        CREATE INDEX rules_people_tiered ON rules_people(tier) WHERE tier != 'acquaintance';
        CREATE INDEX rules_people_next_check ON rules_people(next_check)
            WHERE next_check IS NOT NULL;
        CREATE INDEX IF NOT EXISTS people_pinned ON people(id) WHERE tier_pin IS NOT NULL;
        CREATE INDEX flags_expiry ON flags(expires) WHERE status = 'open' AND expires IS NOT NULL;
        DELETE FROM settings WHERE key = 'rules.state';
        """
    )


@migrations()
def m005_outbox(db: sqlite_utils.Database) -> None:
    """The transactional outbox (every remote write) and the planner's follow-up events.

    ``outbox`` rows are actions: ``id`` is ``OP:KEY`` (``create:``, ``remove:``,
    ``send:``), ``key`` the idempotency key that travels inside the remote
    object (a flag id for follow-ups). ``seq`` orders actions on one key.
    ``followups`` is the planner's view of each follow-up event it placed.
    """
    db.executescript(
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'dead', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,
            lease_until INTEGER,
            remote_ref TEXT,
            last_error TEXT,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            finished INTEGER
        );
        CREATE INDEX outbox_key ON outbox(key, seq);
        CREATE INDEX outbox_open ON outbox(state, not_before) WHERE state IN ('pending', 'running');
        CREATE TABLE followups (
            key TEXT PRIMARY KEY,
            flag_id TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            covers TEXT NOT NULL DEFAULT '[]',
            target TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            week TEXT NOT NULL,
            title TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN
                ('planned', 'placed', 'moved', 'deleted', 'withdrawing', 'withdrawn', 'failed')),
            remote_ref TEXT,
            reason TEXT,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX followups_person ON followups(person_id);
        CREATE INDEX followups_week ON followups(target, week);
        CREATE INDEX followups_flag ON followups(flag_id);
        """
    )


@migrations()
def m006_followups_basis(db: sqlite_utils.Database) -> None:
    """Each follow-up remembers the person's last touch when it was planned.

    A later touch (of any kind) means the user got in touch first: the planner
    then removes the follow-up even if some of its flags are still open.
    """
    db.execute("ALTER TABLE followups ADD COLUMN basis INTEGER")


@migrations()
def m007_message_keys_64(db: sqlite_utils.Database) -> None:
    """Logical-message keys become 64-bit integers (:func:`key64` of ``m:<Message-ID>`` /
    ``f:<fingerprint>``) in a table that is its own rowid index, with no second index.

    A key keeps the message it was first stored with. When two stored messages
    merge, ``message_aliases`` records the retired id and the survivor (kept
    pointing at live messages), instead of rewriting every key of the retired
    one: writing a key costs one B-tree insert instead of three.
    """
    db.conn.create_function("syncd_key64", 1, key64, deterministic=True)
    db.executescript(
        """
        CREATE TABLE message_keys_64 (
            key INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO message_keys_64(key, message_id)
            SELECT syncd_key64(key), message_id FROM message_keys;
        DROP TABLE message_keys;
        ALTER TABLE message_keys_64 RENAME TO message_keys;
        CREATE TABLE message_aliases (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id)
        );
        CREATE INDEX message_aliases_target ON message_aliases(message_id);
        """
    )


@migrations()
def m008_observations_one_index(db: sqlite_utils.Database) -> None:
    """Observations keep one index, ``(message_id, account_id, folder, content_hash)``.

    A stored copy is found through its logical message (its keys lead there) or,
    for copies in skipped folders, under a NULL message: the UNIQUE
    ``(account_id, folder, content_hash)`` index, random within a folder, and
    the separate ``message_id`` index go, and so does the foreign-key probe on
    ``message_id`` (ingest re-points copies before it retires a merged message).
    """
    db.executescript(
        """
        CREATE TABLE observations_v2 (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            folder TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            locator TEXT NOT NULL,
            headers TEXT NOT NULL,
            labels TEXT,
            received_at INTEGER,
            skipped TEXT,
            message_id INTEGER
        );
        INSERT INTO observations_v2(id, account_id, folder, content_hash, locator, headers,
                                    labels, received_at, skipped, message_id)
            SELECT id, account_id, folder, content_hash, locator, headers,
                   labels, received_at, skipped, message_id FROM observations;
        DROP TABLE observations;
        ALTER TABLE observations_v2 RENAME TO observations;
        CREATE INDEX observations_copy
            ON observations(message_id, account_id, folder, content_hash);
        """
    )


@migrations()
def m009_touchpoints_marked_per_batch(db: sqlite_utils.Database) -> None:
    """New touchpoints are marked for the rules engine once per address and batch
    (:func:`syncd.pipeline.ingest.insert_touchpoints`), not by a trigger per row (a B-tree
    probe each)."""
    db.execute("DROP TRIGGER IF EXISTS rules_touch_insert")


@migrations()
def m010_person_kinds(db: sqlite_utils.Database) -> None:
    """Person kinds (human / self / automated / list) with their evidence, and the user's
    ignore list (:mod:`syncd.pipeline.kinds`). A changed kind marks its person for the
    rules engine, which tiers and flags only humans."""
    db.executescript(
        """
        CREATE TABLE person_kinds (
            person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE ignores (
            pattern TEXT PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        ) WITHOUT ROWID;
        CREATE TRIGGER rules_kind_insert AFTER INSERT ON person_kinds BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (new.person_id);
        END;
        CREATE TRIGGER rules_kind_update AFTER UPDATE OF kind ON person_kinds BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (new.person_id);
        END;
        CREATE TRIGGER rules_kind_delete AFTER DELETE ON person_kinds BEGIN
            INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (old.person_id);
        END;
        """
    )


@migrations()
def m011_manual_touches(db: sqlite_utils.Database) -> None:
    """Touches the user records by hand (``syncd log``: calls, coffees, ...), owned by
    :mod:`syncd.pipeline.manual`. A table of their own, not ``touchpoints``: the
    touchpoint contract (design.md §2) counts mail and meetings only, and its numbers
    stay exactly as they are; the rules read these as touches that restart cadences."""
    db.executescript(
        """
        CREATE TABLE manual_touches (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            at INTEGER NOT NULL,
            note TEXT,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE INDEX manual_touches_person ON manual_touches(person_id, at);
        """
    )


@migrations()
def m012_contacts(db: sqlite_utils.Database) -> None:
    """Imported contact cards (vCard, LinkedIn), owned by :mod:`syncd.pipeline.contacts`,
    and the log of the user's merges and splits of people (``person_merges``, owned by
    :mod:`syncd.pipeline.merging`: ``syncd merge`` / ``syncd split``). One ``contacts``
    row per card, attached to a person; a card whose person has no touches keeps that
    person as a network candidate. ``source_uid`` makes
    a re-import of the same card a no-op; ``suggested`` holds the ids of people the card
    may be (a name shared by several, JSON) until the user merges or the card is matched."""
    db.executescript(
        """
        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            source_uid TEXT NOT NULL,
            full_name TEXT,
            organization TEXT,
            title TEXT,
            birthday TEXT,
            anniversary TEXT,
            started_at TEXT,
            location TEXT,
            emails TEXT,
            suggested TEXT,
            imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            UNIQUE (source, source_uid)
        );
        CREATE INDEX contacts_person ON contacts(person_id);
        CREATE TABLE person_merges (
            id INTEGER PRIMARY KEY,
            action TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            other_id INTEGER NOT NULL,
            detail TEXT NOT NULL,
            at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        """
    )


@migrations()
def m013_tags(db: sqlite_utils.Database) -> None:
    """The user's tags on people (``syncd tag`` / ``untag``), owned by
    :mod:`syncd.pipeline.tags`. Names are stored normalised (lower case, trimmed); a
    tag can carry its own cadence in the config (``[rules.tags.NAME]``)."""
    db.executescript(
        """
        CREATE TABLE tags (
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            PRIMARY KEY (person_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX tags_tag ON tags(tag, person_id);
        """
    )


@migrations()
def m015_flags_shown_index(db: sqlite_utils.Database) -> None:
    """``flags(status, due, rule, person_id, expires, snoozed_until)`` replaces
    ``flags(status, due)``: it covers the shown-flags query of ``syncd flags`` (ranked
    from ``id, rule, person_id, due`` alone, in the index's order, without a table
    lookup per flag) and serves every ``status = ? AND due ...`` query the old one did."""
    db.executescript(
        """
        CREATE INDEX flags_shown ON flags(status, due, rule, person_id, expires, snoozed_until);
        DROP INDEX flags_status;
        """
    )


@migrations()
def m016_introductions(db: sqlite_utils.Database) -> None:
    """Introductions the owner made (one message from me to two people who had never
    shared a message, with an introduction-like subject), owned by
    :mod:`syncd.pipeline.introductions`. A table of their own, not ``touchpoints``: the
    touchpoint contract (design.md §2) stays exactly as it is. ``address_a`` <
    ``address_b``; ``connected_at`` is the first later message both took part in
    without me writing it (NULL while they have not)."""
    db.executescript(
        """
        CREATE TABLE introductions (
            message_id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            address_a TEXT NOT NULL,
            address_b TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            connected_at INTEGER,
            connected_ref INTEGER
        );
        CREATE INDEX introductions_at ON introductions(at);
        """
    )


@migrations()
def m017_address_stats(db: sqlite_utils.Database) -> None:
    """What person-kind inference knows per address, kept between runs so a sync adding a
    few messages folds in only those (owned by :mod:`syncd.pipeline.kinds`):
    ``address_stats`` holds the counters and JSON lists of
    :class:`syncd.mail.kinds.AddressStats` (``writers`` only while the address has sent
    nothing, the one case a detector reads them; ``templates`` in first-seen order, which
    breaks ties between subject templates); ``kind_people`` marks the people whose
    addresses changed since (an address added, moved by a merge or split, or removed),
    written by triggers as ``rules_dirty_people`` is."""
    db.executescript(
        """
        CREATE TABLE address_stats (
            address TEXT PRIMARY KEY,
            sent INTEGER NOT NULL,
            sent_to_me INTEGER NOT NULL,
            received_from_me INTEGER NOT NULL,
            exclusive INTEGER NOT NULL,
            with_others INTEGER NOT NULL,
            sent_in_sent_folder INTEGER NOT NULL,
            sole_recipient INTEGER NOT NULL,
            names TEXT NOT NULL,
            writers TEXT NOT NULL,
            templates TEXT NOT NULL,
            source_signals TEXT NOT NULL
        );
        CREATE TABLE kind_people (person_id INTEGER PRIMARY KEY);
        CREATE TRIGGER kind_address_insert AFTER INSERT ON addresses BEGIN
            INSERT OR IGNORE INTO kind_people(person_id) VALUES (new.person_id);
        END;
        CREATE TRIGGER kind_address_moved AFTER UPDATE OF person_id ON addresses BEGIN
            INSERT OR IGNORE INTO kind_people(person_id) VALUES (old.person_id);
            INSERT OR IGNORE INTO kind_people(person_id) VALUES (new.person_id);
        END;
        CREATE TRIGGER kind_address_delete AFTER DELETE ON addresses BEGIN
            INSERT OR IGNORE INTO kind_people(person_id) VALUES (old.person_id);
        END;
        """
    )
