"""What needs attention: one list, computed from the journal, for ``status``, ``status --check`` and more.

Each item says what is wrong, where, since when, and the command that resolves it (issue #17). An
item stays until it is resolved: a failed period until it is delivered, a quarantined load until it
loads, an overdue receipt or extract until it comes, a platform unreachable until a connection
works, and an unexpected sender or a schema change until someone marks it resolved. Nothing here
writes: the journal is only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sf1630.core import steps
from sf1630.journal.base import PLATFORM_UNREACHABLE, SCHEMA_CHANGED, UNEXPECTED_SENDER, WORK_STUCK  # noqa: F401
from sf1630.receive.expect import overdue

SEND_FAILED = "send_failed"
LOAD_QUARANTINED = "load_quarantined"
RECEIPT_OVERDUE = "receipt_overdue"
EXTRACT_OVERDUE = "extract_overdue"
# Kinds journalled as problems (sf1630.journal ProblemRecord), resolved by themselves or by hand.
RESOLVED_BY_HAND = (UNEXPECTED_SENDER, SCHEMA_CHANGED)


@dataclass(frozen=True)
class Attention:
    """One thing that needs attention."""

    kind: str
    municipality: str | None
    source: str | None
    file: str | None
    since: float  # Unix time
    message: str
    resolve: str  # the command (or step) that resolves it
    account: str | None = None
    ref: str = ""  # "transfer:<id>" or "problem:<id>"


def attention(journal: Any, now: float, *, receipt_timeout: float = 600.0,
              expected: Iterable[Any] = ()) -> list[Attention]:
    """Everything that needs attention now, oldest first (``expected``: sf1630.receive.expect.Expected)."""
    items = [*_failed_sends(journal), *_quarantined(journal), *_receipts(journal, now, receipt_timeout),
             *_problems(journal), *_overdue(journal, expected, now)]
    return sorted(items, key=lambda a: (a.since, a.kind, a.ref))


def _failed_sends(journal: Any) -> list[Attention]:
    """The last failed send of each period, unless a send of that period was made after it (and did not fail)."""
    latest_ok: dict[tuple, float] = {}
    failed: dict[tuple, Any] = {}
    for t in journal.transfers(kind="send", limit=None):
        key = (t.account, t.municipality, t.source, t.recipient, _covered(t) or f"#{t.id}")
        if t.state in steps.SEND_FAILED:
            if key not in failed or t.created_at > failed[key].created_at:
                failed[key] = t
        else:
            latest_ok[key] = max(t.created_at, latest_ok.get(key, 0.0))
    out = []
    for key, t in failed.items():
        if latest_ok.get(key, 0.0) >= t.created_at:
            continue
        period = f" --period {t.period}" if t.period else ""
        resolve = (f"sf1630 send --municipality {t.municipality} --source {t.source}{period}"
                   " (`run` retries it by itself)")
        what = f"delivery of period {t.period}" if t.period else "delivery"
        out.append(Attention(SEND_FAILED, t.municipality, t.source, t.file_name, t.updated_at,
                             f"{what} failed: {t.error or 'error receipt'}", resolve, t.account, f"transfer:{t.id}"))
    return out


def _covered(t: Any) -> str | None:
    if not t.period:
        return None
    made = (t.details or {}).get("created")
    when = datetime.fromisoformat(made) if made else datetime.fromtimestamp(t.created_at)
    return steps.covered_period(t.period, when)


def _quarantined(journal: Any) -> list[Attention]:
    out = []
    for t in journal.transfers(kind="receive", states=[steps.QUARANTINED], limit=None):
        resolve = (f"fix the cause, then sf1630 receive --municipality {t.municipality} "
                   "(`run` retries it by itself)")
        out.append(Attention(LOAD_QUARANTINED, t.municipality, t.source, t.file_name, t.created_at,
                             f"load failed, kept in quarantine: {t.error or 'see the log'}", resolve, t.account,
                             f"transfer:{t.id}"))
    return out


def _receipts(journal: Any, now: float, timeout: float) -> list[Attention]:
    out = []
    for t in journal.transfers(kind="send", states=[steps.TRIGGER_UPLOADED], limit=None):
        if now - t.updated_at > timeout:
            out.append(Attention(RECEIPT_OVERDUE, t.municipality, t.source, t.file_name, t.updated_at,
                                 f"no receipt after {now - t.updated_at:.0f} s (receipt_timeout {timeout:.0f} s)",
                                 "ask the platform's operator; the send finishes when the receipt comes",
                                 t.account, f"transfer:{t.id}"))
    return out


def _problems(journal: Any) -> list[Attention]:
    out = []
    for p in journal.list_problems():
        if p.kind in RESOLVED_BY_HAND:
            resolve = f"sf1630 status --resolve {p.id} (once dealt with)"
        elif p.kind == WORK_STUCK:
            resolve = ("fix the cause named in the message (sf1630 doctor helps), then run the command again; "
                       "clears once the work gets on")
        elif p.kind == PLATFORM_UNREACHABLE:
            resolve = (f"check the network and the platform (sf1630 doctor); clears at the next connection of "
                       f"{p.account}")
        else:
            resolve = f"sf1630 status --resolve {p.id}"
        out.append(Attention(p.kind, p.municipality, p.source, p.file_name, p.since, p.message, resolve, p.account,
                             f"problem:{p.id}"))
    return out


def _overdue(journal: Any, expected: Iterable[Any], now: float) -> list[Attention]:
    out = []
    for e in expected:
        due = overdue(journal, e, now)
        if due is not None:
            when = datetime.fromtimestamp(due.deadline).isoformat(sep=" ", timespec="minutes")
            out.append(Attention(EXTRACT_OVERDUE, e.municipality, e.source, None, due.deadline,
                                 f"the {e.source} extract expected by {when} has not arrived",
                                 "ask the source's vendor; clears when the extract arrives"))
    return out
