"""The ``requests`` table: operator commands handed to a running service (issue #21).

A command writes a row (``new``); a service process takes it with a conditional update, so one
process takes each row even when several poll at once; it writes the outcome (``done``) and the
command, which polls the row, prints it. Arguments and outcomes are JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

NEW, TAKEN, DONE = "new", "taken", "done"


@dataclass(frozen=True)
class RequestRow:
    """One request as journalled."""

    id: int
    command: str
    args: dict[str, Any]
    state: str
    asked_by: str
    created_at: float
    taken_by: str | None = None
    taken_at: float | None = None
    outcome: dict[str, Any] | None = None
    exit_code: int | None = None
    done_at: float | None = None


def _row(r: dict[str, Any]) -> RequestRow:
    return RequestRow(id=int(r["id"]), command=r["command"], args=json.loads(r["args"] or "{}"), state=r["state"],
                      asked_by=r["asked_by"], created_at=r["created_at"], taken_by=r["taken_by"],
                      taken_at=r["taken_at"], outcome=json.loads(r["outcome"]) if r["outcome"] else None,
                      exit_code=r["exit_code"], done_at=r["done_at"])


def submit(journal: Any, command: str, args: dict[str, Any], asked_by: str) -> int:
    """Write a new request; its id."""
    rows = journal.execute("INSERT INTO requests (command, args, asked_by, created_at) VALUES (%s, %s, %s, %s) "
                           "RETURNING id", (command, json.dumps(args, sort_keys=True), asked_by, time.time()))
    return int(rows[0]["id"])


def waiting(journal: Any) -> list[RequestRow]:
    """Requests not yet taken, oldest first."""
    return [_row(r) for r in journal.query("SELECT * FROM requests WHERE state = %s ORDER BY id", (NEW,))]


def pending(journal: Any) -> list[RequestRow]:
    """Requests not yet done (new or taken), oldest first."""
    return [_row(r) for r in journal.query("SELECT * FROM requests WHERE state <> %s ORDER BY id", (DONE,))]


def take(journal: Any, request_id: int, by: str) -> bool:
    """Take a new request for ``by``; False when another process took it first."""
    rows = journal.execute("UPDATE requests SET state = %s, taken_by = %s, taken_at = %s WHERE id = %s AND state = %s "
                           "RETURNING id", (TAKEN, by, time.time(), request_id, NEW))
    return bool(rows)


def finish(journal: Any, request_id: int, outcome: dict[str, Any], exit_code: int) -> None:
    """Write a request's outcome."""
    journal.execute("UPDATE requests SET state = %s, outcome = %s, exit_code = %s, done_at = %s WHERE id = %s",
                    (DONE, json.dumps(outcome), exit_code, time.time(), request_id))


def release(journal: Any, by: str) -> None:
    """Put back what ``by`` took and did not finish (it stops), so another process or start takes it."""
    journal.execute("UPDATE requests SET state = %s, taken_by = NULL, taken_at = NULL WHERE state = %s AND taken_by = %s",
                    (NEW, TAKEN, by))


def get(journal: Any, request_id: int) -> RequestRow | None:
    """The request with this id."""
    rows = journal.query("SELECT * FROM requests WHERE id = %s", (request_id,))
    return _row(rows[0]) if rows else None
