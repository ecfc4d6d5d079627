"""The Gmail reader's cursor: where a first sync stands, then the history id to continue from.

Stored as JSON (the ``cursors`` table) in the form syncd has always written::

    {"v": 1, "phase": "full" | "incremental", "history_id": "12345",
     "pass": 0, "page_token": null, "listed": false, "pending": ["id", ...],
     "fetched": 0, "threads": {"id": "threadId", ...}}

(``threads``, the pending ids' threads, is written only when known; without
it the pending ids are fetched one by one.)

:meth:`GmailCursor.from_json` reads that form (a stored cursor from any
earlier version of syncd included); anything else (another version, a
non-numeric history id) is no cursor at all, and the reader starts a first
sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PHASES = ("full", "incremental")


@dataclass(slots=True)
class GmailCursor:
    """One mailbox's read position.

    ``phase`` ``full``: the first sync is listing pass ``pass_index`` of
    :data:`connectors.gmail.LIST_PASSES`, at ``page_token`` (``listed``: that
    page was listed); ``pending`` are the listed ids still to fetch and
    ``fetched`` counts the ids fetched so far; ``threads`` maps pending ids to
    their threadId (for ``threads.get``). ``history_id`` is where
    ``history.list`` continues once the phase is ``incremental``.
    """

    VERSION: ClassVar[int] = 1

    history_id: str
    phase: str = "full"
    pass_index: int = 0
    page_token: str | None = None
    listed: bool = False
    pending: list[str] = field(default_factory=list)
    fetched: int = 0
    threads: dict[str, str] = field(default_factory=dict)  # pending id -> its threadId

    @classmethod
    def from_json(cls, data: Any) -> GmailCursor | None:
        """The cursor a stored JSON object stands for; None when it is not a valid one."""
        if not isinstance(data, dict) or data.get("v") != cls.VERSION:
            return None
        history_id = str(data.get("history_id", ""))
        if data.get("phase") not in PHASES or not history_id.isdigit():
            return None
        token = data.get("page_token")
        return cls(
            history_id=history_id,
            phase=str(data["phase"]),
            pass_index=int(data.get("pass") or 0),
            page_token=str(token) if token else None,
            listed=bool(data.get("listed", False)),
            pending=[str(x) for x in data.get("pending") or []],
            fetched=int(data.get("fetched") or 0),
            threads=(
                {str(k): str(v) for k, v in data["threads"].items()}
                if isinstance(data.get("threads"), dict)
                else {}
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored for this cursor (a copy: later changes do not leak in)."""
        out: dict[str, Any] = {
            "v": self.VERSION,
            "phase": self.phase,
            "history_id": self.history_id,
            "pass": self.pass_index,
            "page_token": self.page_token,
            "listed": self.listed,
            "pending": list(self.pending),
            "fetched": self.fetched,
        }
        threads = {m: self.threads[m] for m in self.pending if m in self.threads}
        if threads:  # (written only when known: the older form stays as it was)
            out["threads"] = threads
        return out

    @property
    def incremental(self) -> bool:
        """True once the first sync is complete."""
        return self.phase == "incremental"
