"""The ``processes`` table: which agent processes work on a journal (host, pid, version, last seen)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProcessRecord:
    """One process of a site, as it last reported itself."""

    id: str
    host: str
    pid: int
    version: str
    started_at: float
    seen_at: float
    stopped_at: float | None = None

    def live(self, within: float, now: float | None = None) -> bool:
        """Whether it reported within ``within`` seconds and has not said it stopped."""
        return self.stopped_at is None and (now if now is not None else time.time()) - self.seen_at <= within


def heartbeat(journal: Any, record: ProcessRecord, now: float | None = None) -> None:
    """Say this process is alive (inserting its row the first time)."""
    journal.execute("INSERT INTO processes (id, host, pid, version, started_at, seen_at) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, stopped_at = NULL",
                    (record.id, record.host, record.pid, record.version, record.started_at,
                     now if now is not None else time.time()))


def stopped(journal: Any, process_id: str) -> None:
    """Say this process stopped cleanly."""
    journal.execute("UPDATE processes SET stopped_at = %s WHERE id = %s", (time.time(), process_id))


def processes(journal: Any, since: float | None = None) -> list[ProcessRecord]:
    """The processes seen since ``since`` (all when None), last seen first."""
    where, params = ("WHERE seen_at >= %s", (since,)) if since is not None else ("", ())
    rows = journal.query(f"SELECT * FROM processes {where} ORDER BY seen_at DESC", params)
    return [ProcessRecord(**r) for r in rows]
