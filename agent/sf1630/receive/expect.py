"""Missing extracts at the LIS: each ``[[receive.expect]]`` against what the journal saw arrive (issue #14).

An expectation names a municipality's source, a cron schedule and a grace period. Its deadline is
the latest fire time plus grace that has passed; it is met by any delivery of that source for that
municipality that arrived (was first seen) after the window opened, i.e. after the deadline before.
A deadline missed is journalled once and fires a ``missing`` event; the first delivery that
arrives afterwards clears it, and every other deadline still open that it came late for (a
second event each); it cannot also meet a later deadline. Time comes from a clock passed in, so
tests drive it without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sf1630.api import Expectation
from sf1630.core.cron import last_deadline
from sf1630.events import Emit, Missing

log = logging.getLogger("sf1630.expect")


@dataclass(frozen=True)
class Expected:
    """One ``[[receive.expect]]`` of one municipality; ``codes`` are the source names its files may show."""

    municipality: str
    source: str
    schedule: str
    grace_seconds: float
    codes: frozenset[str]

    def takes(self, source: str | None) -> bool:
        """Whether a received file of ``source`` (lower-case code from its name) is this extract."""
        return (source or "").lower() in self.codes


@dataclass(frozen=True)
class Overdue:
    """A deadline passed with nothing arrived: what ``sf1630 status`` lists."""

    expected: Expected
    deadline: float
    opened: float


def expectations(cfg: Any, host: Any = None, municipalities: Iterable[str] = ()) -> list[Expected]:
    """Every ``[[receive.expect]]`` of the config (of ``municipalities`` when given).

    ``host`` (a PluginHost) adds the code of a source whose name differs from its code.
    """
    chosen = set(municipalities)
    sources = host.sources() if host is not None else {}
    out = []
    for m in cfg.municipalities:
        if m.receive is None or (chosen and m.municipality.key not in chosen):
            continue
        for e in m.receive.expect:
            codes = {e.source.lower()}
            source = sources.get(e.source)
            if source is not None:
                codes.add(str(source.code).lower())
            out.append(Expected(m.municipality.key, e.source, e.schedule, e.grace_seconds, frozenset(codes)))
    return out


def arrivals(journal: Any, e: Expected, after: float) -> list[Any]:
    """Receives of ``e``'s source for its municipality first seen after ``after``, oldest first."""
    seen = journal.transfers(kind="receive", municipality=e.municipality, since=after, limit=None)
    # A file that names another municipality's authority is not this municipality's extract.
    ours = (t for t in seen if e.takes(t.source) and t.created_at > after and not (t.details or {}).get("foreign_authority"))
    return sorted(ours, key=lambda t: (t.created_at, t.id))


def overdue(journal: Any, e: Expected, now: float) -> Overdue | None:
    """The current deadline of ``e`` when it passed with nothing arrived (read only)."""
    window = last_deadline(e.schedule, e.grace_seconds, datetime.fromtimestamp(now))
    if window is None:
        return None
    opened, deadline = (w.timestamp() for w in window)
    records = journal.list_missing(e.municipality, e.source)
    if any(r.deadline == deadline and r.cleared_at is not None for r in records):
        return None
    # A delivery that cleared an earlier deadline was that deadline's extract, not this one's.
    used = [r.arrived_at for r in records if r.deadline < deadline and r.arrived_at is not None]
    opened = max([opened, *used])
    if arrivals(journal, e, opened):
        return None
    return Overdue(e, deadline, opened)


class MissingWatch:
    """Checks expectations against the journal and emits each missing and cleared event once."""

    def __init__(self, journal: Any, emit: Emit, *, clock: Callable[[], float] = time.time):
        self.journal, self.emit, self.clock = journal, emit, clock

    def check(self, expected: Iterable[Expected]) -> list[Missing]:
        """Clear what arrived, then record what is overdue now; returns the events emitted."""
        events: list[Missing] = []
        now = self.clock()
        for e in expected:
            events += self._clear(e, now)
            due = overdue(self.journal, e, now)
            if due is None:
                continue
            record = self.journal.note_missing(e.municipality, e.source, due.deadline, due.opened, now)
            if record is not None:  # journalled first: a restart never fires it again
                deadline = datetime.fromtimestamp(due.deadline)
                log.warning("%s: the %s extract expected by %s has not arrived", e.municipality, e.source,
                            deadline.isoformat(sep=" ", timespec="minutes"),
                            extra={"municipality": e.municipality, "source": e.source})
                events.append(self._emit(Missing(_expectation(e, due.deadline))))
        return events

    def _clear(self, e: Expected, now: float) -> list[Missing]:
        events = []
        used = 0.0
        for r in self.journal.list_missing(e.municipality, e.source):
            if r.cleared_at is not None:
                used = max(used, r.arrived_at or 0.0)
                continue
            came = arrivals(self.journal, e, max(r.opened, used))
            if not came:
                continue
            # An arrival clears every open deadline it came late for, not only the oldest: else a source
            # that missed several would stay "missing" after it delivers again (issue #17).
            t = came[0]
            if self.journal.clear_missing(r.id, now, t.created_at, t.id):
                log.info("%s: the %s extract expected by %s arrived: %s", e.municipality, e.source,
                         datetime.fromtimestamp(r.deadline).isoformat(sep=" ", timespec="minutes"), t.file_name,
                         extra={"municipality": e.municipality, "source": e.source, "file": t.file_name})
                events.append(self._emit(Missing(_expectation(e, r.deadline, t), cleared=True)))
        return events

    def _emit(self, event: Missing) -> Missing:
        self.emit(event)
        return event


def _expectation(e: Expected, deadline: float, arrived: Any = None) -> Expectation:
    return Expectation(
        municipality=e.municipality, source=e.source, schedule=e.schedule, grace_seconds=e.grace_seconds,
        deadline=datetime.fromtimestamp(deadline),
        arrived_file=arrived.file_name if arrived is not None else None,
        arrived_uuid=arrived.file_transfer_uuid if arrived is not None else None,
        arrived_at=datetime.fromtimestamp(arrived.created_at) if arrived is not None else None)
