"""Row <-> record conversions every backend shares (a row is anything indexable by column name)."""

from __future__ import annotations

import json
from typing import Any

from sf1630.journal.base import JournalTransfer


def encode(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values for ``fields``: details as JSON text."""
    out = dict(fields)
    if "details" in out:
        out["details"] = json.dumps(out["details"] or {}, ensure_ascii=False, sort_keys=True)
    return out


def transfer_of(row: Any) -> JournalTransfer:
    """The record of one ``transfers`` row."""
    return JournalTransfer(
        id=row["id"], kind=row["kind"], key=row["key"], file_name=row["file_name"], account=row["account"],
        state=row["state"], municipality=row["municipality"], source=row["source"],
        file_transfer_uuid=row["file_transfer_uuid"], size=row["size"], rows=row["rows"], error=row["error"],
        details=json.loads(row["details"] or "{}"), period=row["period"], recipient=row["recipient"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
        updated_at=row["updated_at"])
