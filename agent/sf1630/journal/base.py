"""The journal's interface, states and records, shared by every backend (nothing here knows SQLite)."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sf1630.api import Transfer
from sf1630.errors import Sf1630Error

from sf1630.journal.states import INITIAL, RECEIVE_OPEN, SEND_OPEN, ReceiveState, SendState  # noqa: F401

SEND_STATES = tuple(SendState)
RECEIVE_STATES = tuple(ReceiveState)
STATES = {"send": SEND_STATES, "receive": RECEIVE_STATES}
# Columns a caller may set through claim() and move(); details is a dict stored as JSON.
FIELDS = ("municipality", "source", "account", "file_name", "file_transfer_uuid", "size", "rows", "error",
          "period", "recipient", "details", "attempts", "next_attempt_at")


class JournalError(Sf1630Error):
    """The journal cannot be opened or used (newer schema, unreadable file, unknown transfer)."""


@dataclass(frozen=True)
class JournalTransfer(Transfer):
    """A journalled transfer: ``sf1630.api.Transfer`` plus the journal's own columns."""

    period: str | None = None
    recipient: str | None = None
    attempts: int = 0
    next_attempt_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class MissingRecord:
    """An expected extract that had not arrived by ``deadline`` (issue #14); ``cleared_at`` once it came."""

    id: int
    municipality: str
    source: str
    deadline: float
    opened: float  # arrivals after this count for the deadline
    fired_at: float
    cleared_at: float | None = None
    arrived_at: float | None = None  # created_at of the receive that cleared it
    transfer_id: int | None = None


# Kinds of problem records: journalled by the receiver and the platform's health, read by attention.
PLATFORM_UNREACHABLE = "platform_unreachable"
UNEXPECTED_SENDER = "unexpected_sender"
SCHEMA_CHANGED = "schema_changed"
WORK_STUCK = "work_stuck"  # a send or an account's receiving fails for a local reason (a key, the spool, a sink)


@dataclass(frozen=True)
class ProblemRecord:
    """Something that needs attention and is not a transfer's state (issue #17), open until resolved."""

    id: int
    kind: str  # e.g. "platform_unreachable", "unexpected_sender", "schema_changed"
    key: str  # one open record per (kind, key), e.g. the account
    message: str
    since: float
    seen_at: float  # the last time it was seen
    municipality: str | None = None
    source: str | None = None
    account: str | None = None
    file_name: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None


class Journal(abc.ABC):
    """The interface every journal backend implements.

    Writes (claim, move, note_missing, clear_missing) return only once their change is durable,
    and may be called from many threads at once; a backend may commit concurrent writes together.
    """

    # True when several processes may work on this journal at once (they then coordinate through
    # leases, issue #21); False for a journal one process holds (SQLite, with its lock file).
    shared = False

    @abc.abstractmethod
    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement (``%s`` placeholders) in a durable transaction of its own; the rows it returns.

        For the journal's own bookkeeping tables (processes, requests, firings), not for transfers.
        """

    @abc.abstractmethod
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """The rows of one query (``%s`` placeholders)."""

    @abc.abstractmethod
    def claim(self, kind: str, key: str, **fields: Any) -> tuple[JournalTransfer, bool]:
        """Insert a transfer under a unique ``key`` if new; return it and whether it was created."""

    @abc.abstractmethod
    def move(self, transfer_id: int, state: str, *, note: str = "", **fields: Any) -> JournalTransfer:
        """Set the state (and fields) and add a history row, durably, before the caller acts."""

    @abc.abstractmethod
    def get(self, key: str) -> JournalTransfer | None:
        """The transfer with this key."""

    @abc.abstractmethod
    def get_id(self, transfer_id: int) -> JournalTransfer | None:
        """The transfer with this id."""

    @abc.abstractmethod
    def transfers(self, kind: str | None = None, states: Iterable[str] | None = None, limit: int | None = 100, *,
             municipality: str | None = None, source: str | None = None, account: str | None = None,
             since: float | None = None, due_before: float | None = None) -> list[JournalTransfer]:
        """Transfers, most recently changed first, filtered by each argument given."""

    @abc.abstractmethod
    def history(self, transfer_id: int) -> list[tuple[str, float, str]]:
        """The states a transfer went through: (state, unix time, note), oldest first."""

    @abc.abstractmethod
    def counts(self) -> dict[tuple[str, str], int]:
        """How many transfers are in each (kind, state)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the journal."""

    def list_waiting(self, limit: int | None = 100) -> list[JournalTransfer]:
        """Transfers not finished: open sends and receives, including quarantined loads."""
        return self.transfers(states=[*SEND_OPEN, *RECEIVE_OPEN], limit=limit)

    @abc.abstractmethod
    def list_resends(self, limit: int | None = 100) -> list[JournalTransfer]:
        """Sends made with ``--resend`` (their details hold ``resend_reason``), newest first (issue #14)."""

    @abc.abstractmethod
    def note_missing(self, municipality: str, source: str, deadline: float, opened: float,
                     at: float) -> MissingRecord | None:
        """Record an overdue expected extract; the record when new, None when it was known (issue #14)."""

    @abc.abstractmethod
    def clear_missing(self, record_id: int, at: float, arrived_at: float, transfer_id: int | None) -> bool:
        """Mark a missing extract as arrived; True when it was still open."""

    @abc.abstractmethod
    def list_missing(self, municipality: str | None = None, source: str | None = None, *,
                     open_only: bool = False) -> list[MissingRecord]:
        """Missing-extract records, oldest deadline first."""

    @abc.abstractmethod
    def note_problem(self, kind: str, key: str, message: str, at: float,
                     **where: str | None) -> tuple[ProblemRecord, bool]:
        """Open (or refresh the message and seen time of) the problem ``kind``/``key``; True when new.

        ``where`` may name municipality, source, account and file_name.
        """

    @abc.abstractmethod
    def resolve_problem(self, kind: str | None, key: str | None, at: float, by: str, *,
                        problem_id: int | None = None) -> list[ProblemRecord]:
        """Close the open problem(s) of ``kind``/``key`` (or the one with ``problem_id``); those closed."""

    @abc.abstractmethod
    def list_problems(self, kind: str | None = None, *, open_only: bool = True) -> list[ProblemRecord]:
        """Problems, oldest first."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_kind(kind: str) -> None:
    """Refuse a kind other than send or receive."""
    if kind not in STATES:
        raise ValueError(f"kind must be 'send' or 'receive', not {kind!r}")


def check_fields(fields: dict[str, Any]) -> None:
    """Refuse fields that are not journal columns, naming the known ones."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown journal field(s): {', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}")


def check_state(kind: str, state: str) -> None:
    """Refuse a state that is not one of ``kind``'s."""
    if state not in STATES[kind]:
        raise ValueError(f"{state!r} is not a {kind} state; the states are: {', '.join(STATES[kind])}")
