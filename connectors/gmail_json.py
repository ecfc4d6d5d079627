"""Saved Gmail API responses, replayed through the Gmail connector's own conversion.

``syncd import gmail-json FILE`` reads ``users.messages.get(format=metadata)``
resources (``id``, ``threadId``, ``labelIds``, ``internalDate``,
``payload.headers``) that someone saved, so a bug report can be replayed
without their account (dogsheep's pattern). Each resource becomes an
observation through :func:`connectors.gmail.observation`, exactly as a live
sync would convert it. Accepted files:

- a JSON array of message resources;
- JSON Lines: one message resource per line;
- a JSON object ``{"messages": [...], "labels": [...]}``, or a single message
  resource.

``labels`` (optional) are ``labels.list`` resources (``id``, ``name``,
``type``), so user labels become folders by name; in JSON Lines a line
``{"labels": [...]}`` (a saved ``labels.list`` response) does the same.
Without them user labels go by their ids, as in a sync whose
``labels.list`` failed.

A file that is not such JSON is a :class:`~syncd.core.errors.UserError` (the
import stops and says why). Within a good file a record that cannot be
converted (not an object, no headers, a broken line of JSON Lines) is
quarantined, never dropped.

Cursor per file, like every local export: ``{size, mtime_ns, hash, records,
done}``. An unchanged file costs one ``stat``; a file touched but not changed
(same hash) is not converted again; an interrupted import resumes after the
``records`` it committed, and a JSON Lines file that only grew (lines
appended) after them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import Batch, Cursor, MailObservation, Quarantined, Reader
from connectors.gmail import filter_categories_option, label_table, observation
from connectors.localfiles import account_paths, unchanged, walk_files
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home

BATCH_RECORDS = 500
SUFFIXES = (".json", ".jsonl", ".ndjson")
FORMAT_HINT = (
    "expected saved Gmail API message resources (users.messages.get format=metadata):"
    ' a JSON array, JSON Lines, or {"messages": [...]}'
)


@dataclass(slots=True)
class Record:
    """One record of a file (numbered from 1): a parsed JSON value, or why it did not parse."""

    line: int
    value: Any = None
    error: str = ""


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and ("payload" in value or "id" in value)


def _is_labels(value: Any) -> bool:
    """A saved ``labels.list`` response."""
    return (
        isinstance(value, dict) and isinstance(value.get("labels"), list) and not _is_message(value)
    )


def _not_json(path: Path, why: str) -> UserError:
    return UserError(f"{path}: not Gmail API JSON ({why}); {FORMAT_HINT}")


def parse(path: Path, data: bytes) -> tuple[list[Record], list[dict[str, Any]]]:
    """The message records and the label resources of a file's content.

    Raises :class:`UserError` when the content is not one of the accepted forms.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_json(path, "not UTF-8 text") from None
    if not text.strip():
        return [], []
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        return _json_lines(path, text)
    if isinstance(whole, list):
        if whole and not any(_is_message(v) for v in whole):
            raise _not_json(path, "a JSON array holding no message resources")
        return [Record(n, v) for n, v in enumerate(whole, 1)], []
    if isinstance(whole, dict) and isinstance(whole.get("messages"), list):
        labels = whole.get("labels") or []
        if not isinstance(labels, list):
            raise _not_json(path, '"labels" is not a list')
        return [Record(n, v) for n, v in enumerate(whole["messages"], 1)], labels
    if _is_message(whole):
        return [Record(1, whole)], []
    if _is_labels(whole):
        return [], whole["labels"]
    raise _not_json(path, "JSON holding no message resources")


def _json_lines(path: Path, text: str) -> tuple[list[Record], list[dict[str, Any]]]:
    """JSON Lines; the first record must parse (else the file is not JSON at all)."""
    records: list[Record] = []
    labels: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            if not records and not labels:
                raise _not_json(path, f"line {n}: {exc.msg}") from None
            records.append(Record(n, error=f"line {n} is not JSON: {exc.msg}"))
            continue
        if _is_labels(value):
            labels.extend(value["labels"])
            continue
        if not records and not labels and not _is_message(value):
            raise _not_json(path, f"line {n} is not a message resource")
        records.append(Record(n, value))
    return records, labels


class GmailJsonReader:
    """Reads saved Gmail API message resources from files (see the module docstring)."""

    def __init__(self, paths: list[Path], filter_categories: bool = False):
        self.paths = [Path(p).resolve() for p in paths]
        self.filter_categories = filter_categories

    def _files(self) -> list[Path]:
        """The files named, plus ``*.json`` / ``*.jsonl`` / ``*.ndjson`` under directories."""
        explicit = {p for p in self.paths if p.is_file()}
        out: list[Path] = []
        for _root, path in walk_files(self.paths):
            path = path.resolve()
            if path not in out and (path in explicit or path.suffix.lower() in SUFFIXES):
                out.append(path)
        return out

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Bytes of the files still to read."""
        total = 0
        for path in self._files():
            st = path.stat()
            if not unchanged(cursors.get(str(path)), st):
                total += st.st_size
        return total

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Batches of up to :data:`BATCH_RECORDS` records, each with its file's cursor
        (then a batch counting the unchanged files and their records)."""
        skipped = Batch()
        for path in self._files():
            st = path.stat()
            cursor = cursors.get(str(path))
            if unchanged(cursor, st):
                skipped.unchanged += 1
                skipped.known += int(cursor.get("records", 0))
                continue
            yield from self._read(path, cursor)
        if skipped.unchanged:
            yield skipped

    def _read(self, path: Path, cursor: Cursor | None) -> Iterator[Batch]:
        scope = str(path)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        base = {"size": len(data), "mtime_ns": st.st_mtime_ns, "hash": _digest(data)}
        # The records read before are still there when the file only grew (appended lines).
        old_size = int(cursor.get("size", -1)) if cursor else -1
        kept = 0 <= old_size <= len(data) and _digest(data[:old_size]) == cursor.get("hash")
        if kept and old_size == len(data) and cursor.get("done"):  # touched, not changed
            records = cursor["records"]
            yield Batch(
                cursors={scope: {**base, "records": records, "done": True}},
                unchanged=1,
                known=records,
            )
            return
        records, label_resources = parse(path, data)
        labels = label_table(label_resources)
        total = len(records)
        skip = min(int(cursor.get("records", 0)), total) if kept else 0
        done = skip
        progress = len(data) * skip // total if total else 0
        for start in range(skip, total, BATCH_RECORDS):
            chunk = records[start : start + BATCH_RECORDS]
            batch = Batch()
            for record in chunk:
                self._convert(scope, record, labels, batch)
            done = start + len(chunk)
            batch.known = skip if start == skip else 0  # the records read before
            batch.cursors[scope] = {**base, "records": done, "done": done >= total}
            new_progress = len(data) * done // total
            batch.progress, progress = new_progress - progress, new_progress
            yield batch
        if done == skip:  # nothing (new) in the file: its cursor alone
            yield Batch(
                cursors={scope: {**base, "records": done, "done": True}},
                progress=len(data) - progress,
                known=skip,
            )

    def _convert(
        self, scope: str, record: Record, labels: dict[str, tuple[str, str]], batch: Batch
    ) -> None:
        # No excerpts: a saved resource may hold more than metadata (format=full bodies).
        locator = f"{scope}:{record.line}"
        if record.error:
            batch.quarantined.append(Quarantined(scope, locator, record.error))
            return
        value = record.value
        if not _is_message(value):
            reason = f"record {record.line} is not a message resource"
            batch.quarantined.append(Quarantined(scope, locator, reason))
            return
        try:
            obs = observation(value, labels, self.filter_categories)
        except (TypeError, ValueError, AttributeError) as exc:
            reason = f"record {record.line}: unreadable message resource ({exc})"
            obs = Quarantined(scope, locator, reason)
        if isinstance(obs, MailObservation):
            batch.mail.append(obs)
        else:
            batch.quarantined.append(obs)


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of saved Gmail API responses: the files under the account's ``paths``.

    Option ``filter_categories`` as for a ``gmail`` account.
    """
    return GmailJsonReader(account_paths(account), filter_categories_option(account))
