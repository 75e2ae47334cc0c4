"""Leases of units of work in a shared (PostgreSQL) journal, and the processes that hold them.

A unit (``receive:<account>``, ``send:<municipality>:<source>:<recipient>``, ``upkeep``) is held by
at most one process at a time, until ``expires_at`` unless renewed. Taking a free or expired unit
raises its epoch, so the writes of the previous holder fail from then on (``fence.py``). Rows are
taken with ``FOR UPDATE SKIP LOCKED``: processes trying at once never wait for each other, and
each row goes to one of them. Times of leases are the database's clock, so the hosts' clocks
do not matter; ``processes`` rows carry each host's own clock, for people to read.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sf1630.journal.fence import Fence

NOW = "extract(epoch FROM clock_timestamp())"


class Leases:
    """The leases one process holds in ``journal`` (a ``PostgresJournal``), as ``holder``."""

    def __init__(self, journal: Any, holder: str, ttl: float):
        self.journal, self.holder, self.ttl = journal, holder, ttl
        self.fences: dict[str, Fence] = {}

    def held(self, unit: str) -> Fence | None:
        """The fence of ``unit`` while this process holds it and may act on it."""
        fence = self.fences.get(unit)
        if fence is None or fence.lost or time.monotonic() > fence.valid_until:
            return None
        return fence

    def renew(self) -> list[str]:
        """Extend every lease still held; return the units lost (expired, or taken by another process)."""
        started = time.monotonic()
        rows = self.journal.transaction(lambda db: db.execute(
            f"UPDATE leases SET expires_at = {NOW} + %s WHERE holder = %s AND expires_at >= {NOW} "
            "RETURNING unit, epoch", (self.ttl, self.holder)).fetchall())
        kept = {r["unit"]: r["epoch"] for r in rows}
        lost = []
        for unit, fence in list(self.fences.items()):
            if kept.get(unit) == fence.epoch and not fence.lost:
                fence.valid_until = started + self.ttl * 0.75  # from before the renewal was asked
            else:
                fence.lost = True
                del self.fences[unit]
                lost.append(unit)
        return lost

    def acquire(self, units: list[str], want: int) -> list[str]:
        """Take up to ``want`` of ``units`` that are free or expired; return those taken."""
        if want <= 0 or not units:
            return []
        started = time.monotonic()

        def take(db) -> list[dict[str, Any]]:
            db.execute("INSERT INTO leases (unit) SELECT unnest(%s::text[]) ON CONFLICT (unit) DO NOTHING", (units,))
            free = [r["unit"] for r in db.execute(
                f"SELECT unit FROM leases WHERE unit = ANY(%s) AND (holder IS NULL OR expires_at < {NOW}) "
                "ORDER BY random() LIMIT %s FOR UPDATE SKIP LOCKED", (units, want)).fetchall()]
            if not free:
                return []
            return db.execute(f"UPDATE leases SET holder = %s, epoch = epoch + 1, expires_at = {NOW} + %s "
                              "WHERE unit = ANY(%s) RETURNING unit, epoch", (self.holder, self.ttl, free)).fetchall()

        taken = self.journal.transaction(take)
        for row in taken:
            self.fences[row["unit"]] = Fence(row["unit"], self.holder, row["epoch"], started + self.ttl * 0.75)
        return [r["unit"] for r in taken]

    def release(self, units: list[str] | None = None) -> None:
        """Give units back at once (all when None), so another process need not wait for them to expire."""
        names = list(self.fences) if units is None else units
        for unit in names:
            fence = self.fences.pop(unit, None)
            if fence is not None:
                fence.lost = True
        if names:
            self.journal.transaction(lambda db: db.execute(
                "UPDATE leases SET holder = NULL, expires_at = 0 WHERE holder = %s AND unit = ANY(%s)",
                (self.holder, names)))


def fair_share(units: int, processes: int) -> int:
    """How many units one of ``processes`` live processes should hold (at least one each, rounded up)."""
    return math.ceil(units / max(1, processes))


def holders(journal: Any) -> dict[str, tuple[str | None, int, float]]:
    """Every unit with its holder, epoch and seconds until its lease expires (negative: expired)."""
    rows = journal.query(f"SELECT unit, holder, epoch, expires_at - {NOW} AS left_s FROM leases ORDER BY unit")
    return {r["unit"]: (r["holder"], r["epoch"], r["left_s"]) for r in rows}
