"""What an operator asks of the agent, and what comes back: one typed value each way (issue #18).

``sf1630 send`` and ``receive`` parse their arguments once into a request and hand it down; the
agent does the work (itself, or through a running service, issue #21) and returns an Outcome
that the command prints. Both travel through the journal's ``requests`` table as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sf1630.ops.report import TRANSFER_HEADER, table
from sf1630.agent.runtime import Selection


@dataclass(frozen=True)
class SendRequest:
    """``sf1630 send``: the selection and how to send it."""

    selection: Selection = field(default_factory=Selection)
    period: str | None = None
    resend_reason: str | None = None
    resend_by: str | None = None
    catch_up: bool = False
    since: str | None = None
    dry_run: bool = False

    command = "send"


@dataclass(frozen=True)
class ReceiveRequest:
    """``sf1630 receive``: the selection."""

    selection: Selection = field(default_factory=Selection)
    dry_run: bool = False

    command = "receive"


Request = SendRequest | ReceiveRequest
KINDS: dict[str, type[SendRequest] | type[ReceiveRequest]] = {"send": SendRequest, "receive": ReceiveRequest}


@dataclass(frozen=True)
class Outcome:
    """What a request ended with: the transfers' table rows, lines to print, and the exit status."""

    exit_code: int = 0
    rows: tuple[tuple[str, ...], ...] = ()  # ops.report.transfer_rows, as text
    notes: tuple[str, ...] = ()  # said before the table (e.g. which delivery a resend repeats)
    after: tuple[str, ...] = ()  # said after it (e.g. an account that could not be read)
    error: str = ""  # the request was refused or failed (the command raises it as its error)
    table: bool = True  # print the transfers' table, even empty (a dry run prints its own in ``after``)

    def merge(self, other: Outcome) -> Outcome:
        """Both outcomes as one (the worse exit status)."""
        notes = tuple(dict.fromkeys(self.notes + other.notes))  # rows of one command may repeat a note
        error = "; ".join(e for e in (self.error, other.error) if e)
        return Outcome(max(self.exit_code, other.exit_code), self.rows + other.rows, notes,
                       tuple(dict.fromkeys(self.after + other.after)), error, self.table and other.table)

    def lines(self) -> list[str]:
        """What the command prints."""

        body = table(TRANSFER_HEADER, self.rows, right=(5,)) if self.table else []
        return [*self.notes, *body, *self.after]


def to_json(request: Request) -> dict[str, Any]:
    """The request as plain data for the journal."""
    data = asdict(request)
    data["selection"] = {"municipalities": list(request.selection.municipalities),
                         "sources": list(request.selection.sources)}
    return data


def from_json(command: str, data: dict[str, Any]) -> Request:
    """The request written by :func:`to_json`; unknown keys (a newer agent's) are left out."""
    kind = KINDS[command]
    known = {f.name for f in fields(kind)}
    values = {k: v for k, v in data.items() if k in known and k != "selection"}
    chosen = data.get("selection") or {}
    selection = Selection(tuple(chosen.get("municipalities", ())), tuple(chosen.get("sources", ())))
    return kind(selection=selection, **values)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return asdict(outcome)


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    return Outcome(int(data.get("exit_code", 1)), tuple(tuple(str(c) for c in r) for r in data.get("rows", ())),
                   tuple(data.get("notes", ())), tuple(data.get("after", ())), str(data.get("error", "")),
                   bool(data.get("table", True)))
