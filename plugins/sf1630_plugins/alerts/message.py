"""What an alert says: built from an event's names, sizes, counts and UUIDs, never from row data.

Issue #14: extracts hold CPR numbers, so an alert carries only the file name, account, municipality,
source, size, row count, FileTransferUUID and error codes. A load failure's exception text may quote
a value from the file, so only the exception's type is passed on; the full text is in the agent's
log on its own host.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

# The alert kinds, as named in the ``events`` option of [alerts].
DELIVERY_FAILED = "delivery_failed"
RECEIPT_OVERDUE = "receipt_overdue"
LOAD_FAILED = "load_failed"
RETENTION_WARNING = "retention_warning"
EXTRACT_MISSING = "extract_missing"  # issue #14: an expected extract did not come in time
EXTRACT_ARRIVED = "extract_arrived"  # ... and then it came
PLATFORM_UNREACHABLE = "platform_unreachable"  # issue #17: longer than unreachable_alert_seconds
UNEXPECTED_SENDER = "unexpected_sender"  # a file from a sender not in expected_senders, left in place
SCHEMA_CHANGED = "schema_changed"  # a load changed a table's columns
KINDS = (DELIVERY_FAILED, RECEIPT_OVERDUE, LOAD_FAILED, RETENTION_WARNING, EXTRACT_MISSING, EXTRACT_ARRIVED,
         PLATFORM_UNREACHABLE, UNEXPECTED_SENDER, SCHEMA_CHANGED)

# One error entry of a receipt as the sender words it: "<code> <code description>: <description>".
# The code and its description come from the platform's table; the free text after ":" may quote
# values, so it is left out.
RECEIPT_ERROR = re.compile(r"(?:^|;\s*)(\d+)\s+([^:;]+):")
EXCEPTION_TYPE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?::|$)")


@dataclass(frozen=True)
class Alert:
    """One alert: its kind, a one-line title, a dedup key and the facts to show."""

    kind: str
    title: str
    key: str  # the same key within repeat_hours is sent once
    facts: dict[str, Any] = field(default_factory=dict)
    host: str = field(default_factory=socket.gethostname)
    at: float = field(default_factory=time.time)

    def text(self) -> str:
        """A plain-text body: the title, then one ``name: value`` line per fact."""
        width = max((len(k) for k in self.facts), default=0)
        lines = [self.title, ""]
        lines += [f"{k.ljust(width)}  {v}" for k, v in self.facts.items()]
        lines += ["", f"agent host: {self.host}", f"time: {_iso(self.at)}",
                  "Details: `sf1630 status` and the agent's log on that host."]
        return "\n".join(lines) + "\n"

    def document(self) -> dict[str, Any]:
        """The JSON a webhook receives; ``text`` also makes Slack- and Teams-style hooks show it."""
        return {"event": self.kind, "summary": self.title, "text": f"sf1630 on {self.host}: {self.title}",
                "host": self.host, "time": _iso(self.at), "facts": dict(self.facts)}


def transfer_facts(t: Any) -> dict[str, Any]:
    """Names, sizes and counts of a journalled transfer; empty ones left out."""
    facts = {"file": t.file_name, "account": t.account, "municipality": t.municipality,
             "source": t.source, "size_bytes": t.size, "rows": t.rows,
             "file_transfer_uuid": t.file_transfer_uuid, "state": t.state, "journal_id": t.id}
    return {k: v for k, v in facts.items() if v not in (None, "")}


def failed(transfer: Any, reason: str) -> Alert:
    """A failed delivery (error receipt) or a failed load, from ``sf1630_on_failed``."""
    facts = transfer_facts(transfer)
    if transfer.kind == "receive":
        facts["error_type"] = exception_type(reason)
        return Alert(LOAD_FAILED, f"load of {transfer.file_name} failed; the file is kept in quarantine "
                                  "and retried", f"{LOAD_FAILED}:{transfer.key}", facts)
    facts["errors"] = receipt_errors(reason)
    # Keyed by period: `run` retries a failed period as new sends, and the alert is said once (issue #17).
    period = getattr(transfer, "period", None)
    key = f"{transfer.account}:{transfer.municipality}:{transfer.source}:{period}" if period else transfer.key
    return Alert(DELIVERY_FAILED, f"delivery of {transfer.file_name} failed", f"{DELIVERY_FAILED}:{key}", facts)


def unreachable(account: str, environment: str, since: float, reason: str) -> Alert:
    """The platform has been unreachable for an account longer than unreachable_alert_seconds."""
    facts = {"account": account, "environment": environment, "since": _iso(since),
             "minutes": round((time.time() - since) / 60), "reason": reason}
    return Alert(PLATFORM_UNREACHABLE, f"the platform has been unreachable for account {account} since "
                 f"{_iso(since)}", f"{PLATFORM_UNREACHABLE}:{environment}:{account}:{since:.0f}", facts)


def unexpected_sender(account: str, path: str, sender: str) -> Alert:
    """A delivered file from a sender that is not in expected_senders; it was left in place."""
    facts = {"account": account, "path": path, "sender": sender, "note": "left in place, not loaded"}
    return Alert(UNEXPECTED_SENDER, f"{path} of account {account} comes from unexpected sender {sender}",
                 f"{UNEXPECTED_SENDER}:{account}:{path}", facts)


def schema_changed(delivery: Any, sink: str, changes: Any) -> Alert:
    """A load changed a table's columns (added, missing or widened)."""
    text = "; ".join(f"{c.table}.{c.column} {c.kind} {c.detail}".rstrip() for c in changes)
    facts = {"file": delivery.file_name, "municipality": delivery.municipality, "source": delivery.source,
             "file_transfer_uuid": delivery.file_transfer_uuid, "sink": sink, "changes": text}
    return Alert(SCHEMA_CHANGED, f"{delivery.file_name} changed the table it loads into ({sink})",
                 f"{SCHEMA_CHANGED}:{delivery.file_transfer_uuid}:{sink}",
                 {k: v for k, v in facts.items() if v not in (None, "")})


def receipt_overdue(transfer: Any, waited: float) -> Alert:
    """No receipt within receipt_timeout; the sender keeps waiting."""
    facts = {**transfer_facts(transfer), "waited_seconds": round(waited)}
    return Alert(RECEIPT_OVERDUE, f"no receipt for {transfer.file_name} after {waited:.0f} s",
                 f"{RECEIPT_OVERDUE}:{transfer.key}", facts)


def retention_warning(account: str, path: str, age_days: float) -> Alert:
    """A file of the agent's own has lain on the platform past warn_days (PROTOCOL.md rule 8)."""
    facts = {"account": account, "path": path, "age_days": round(age_days, 1),
             "note": "the platform deletes files after 30 days"}
    return Alert(RETENTION_WARNING, f"{path} of account {account} is {age_days:.0f} days old on the platform",
                 f"{RETENTION_WARNING}:{account}:{path}", facts)


def missing(expectation: Any, cleared: bool) -> Alert:
    """An expected extract is overdue, or it arrived after its deadline (``sf1630_on_missing``)."""
    e = expectation
    due = e.deadline.strftime("%Y-%m-%d %H:%M")
    facts = {"municipality": e.municipality, "source": e.source, "deadline": due, "schedule": e.schedule,
             "grace_seconds": round(e.grace_seconds)}
    key = f"{e.municipality}:{e.source}:{due}"
    if cleared:
        facts.update(file=e.arrived_file, file_transfer_uuid=e.arrived_uuid,
                     arrived=e.arrived_at.strftime("%Y-%m-%d %H:%M") if e.arrived_at else None)
        return Alert(EXTRACT_ARRIVED, f"the {e.source} extract for {e.municipality} due by {due} has arrived",
                     f"{EXTRACT_ARRIVED}:{key}", {k: v for k, v in facts.items() if v not in (None, "")})
    return Alert(EXTRACT_MISSING, f"the {e.source} extract for {e.municipality} due by {due} has not arrived",
                 f"{EXTRACT_MISSING}:{key}", facts)


def receipt_errors(reason: str) -> str:
    """``"402 ROUTING_INFO_MISSING, 301 ..."``: the codes of a receipt, without free text."""
    found = [f"{code} {name}" for code, name in RECEIPT_ERROR.findall(reason or "")]
    if found:
        return ", ".join(found)
    if (reason or "").startswith("the receipt cannot be read"):
        return "the receipt cannot be read"
    return "see the agent's log"


def exception_type(reason: str) -> str:
    """The exception type at the start of a load failure's reason (``"LoadError"``), nothing more."""
    match = EXCEPTION_TYPE.match((reason or "").strip())
    return match.group(1) if match else "see the agent's log"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
