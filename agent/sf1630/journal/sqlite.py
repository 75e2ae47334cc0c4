"""The journal: one row per transfer with its state history, each state committed before its action.

The sender and receiver claim a transfer by a unique key, then move it from state to state; a
state is durable on disk before the action it allows (issue #13), so a restarted agent finishes
what it began and never does anything twice. Nothing outside this module may assume SQLite: a
PostgreSQL journal that several hosts share comes later, as another ``Journal`` class.

Send states:    planned -> extracted -> data_uploaded -> trigger_uploaded -> delivered | failed (then cleaned)
Receive states: seen -> downloaded -> remote_deleted -> loaded | quarantined (retried -> loaded)
"""

from __future__ import annotations

import abc
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sf1630.api import Transfer
from sf1630.errors import Sf1630Error

SEND_STATES = ("planned", "extracted", "data_uploaded", "trigger_uploaded", "delivered", "failed", "cleaned")
RECEIVE_STATES = ("seen", "downloaded", "remote_deleted", "loaded", "quarantined", "retried")
INITIAL = {"send": "planned", "receive": "seen"}
STATES = {"send": SEND_STATES, "receive": RECEIVE_STATES}
# Columns a caller may set through claim() and move(); details is a dict stored as JSON.
FIELDS = ("municipality", "source", "account", "file_name", "file_transfer_uuid", "size", "rows", "error",
          "period", "recipient", "details", "attempts", "next_attempt_at")

# Each entry takes the schema from version i to i + 1. Append only; never edit a released step
# (issue #4: a journal is migrated at start, and an older agent refuses a newer journal).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE transfers (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('send', 'receive')),
        key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        municipality TEXT, source TEXT, account TEXT NOT NULL DEFAULT '', file_name TEXT NOT NULL DEFAULT '',
        file_transfer_uuid TEXT, size INTEGER, rows INTEGER, error TEXT, period TEXT, recipient TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX transfers_kind_state ON transfers (kind, state);
    CREATE INDEX transfers_updated ON transfers (updated_at);
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        transfer_id INTEGER NOT NULL REFERENCES transfers (id),
        state TEXT NOT NULL,
        at REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX history_transfer ON history (transfer_id, id);
    """,
    # Issue #14: expected extracts that did not arrive by their deadline, so each fires once.
    """
    CREATE TABLE missing (
        id INTEGER PRIMARY KEY,
        municipality TEXT NOT NULL,
        source TEXT NOT NULL,
        deadline REAL NOT NULL,
        opened REAL NOT NULL,
        fired_at REAL NOT NULL,
        cleared_at REAL,
        arrived_at REAL,
        transfer_id INTEGER,
        UNIQUE (municipality, source, deadline)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


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


class Journal(abc.ABC):
    """The interface every journal backend implements."""

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
    def list(self, kind: str | None = None, states: Iterable[str] | None = None, limit: int | None = 100, *,
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
        open_states = [*SEND_STATES[:4], *(s for s in RECEIVE_STATES if s != "loaded")]
        return self.list(states=open_states, limit=limit)

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

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_journal(path: Path | str) -> Journal:
    """Open (creating and migrating as needed) the journal at ``path``."""
    return SqliteJournal(Path(path))


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown journal field(s): {', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}")


def _check_state(kind: str, state: str) -> None:
    if state not in STATES[kind]:
        raise ValueError(f"{state!r} is not a {kind} state; the states are: {', '.join(STATES[kind])}")



class SqliteJournal(Journal):
    """The journal in one SQLite file: WAL, synchronous=FULL, one connection behind a lock.

    The agent runs jobs in threads and in an event loop; every call takes the lock, so one
    connection serves them all and each write is one short transaction.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 30.0):
        self.path = path
        self._lock = threading.RLock()
        _create_private(path)
        self._db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")  # durable at each commit: the point of a journal
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{path}: cannot use the journal: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    # -- schema --------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._version()
        if version == SCHEMA_VERSION:
            return
        if 0 < version < SCHEMA_VERSION:
            self._backup(version)
        with self._transaction():
            version = self._version()  # another process may have migrated meanwhile
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(MIGRATIONS[target - 1]):
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self) -> int:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(f"{self.path}: this journal was written by a newer sf1630 (schema {version}); "
                               f"upgrade the agent (this one reads schema {SCHEMA_VERSION} and older)")
        return version

    def _backup(self, version: int) -> None:
        """Keep a copy of the journal as it was before an upgrade changes it (issue #4)."""
        copy = self.path.with_name(f"{self.path.name}.schema{version}.bak")
        _create_private(copy)  # owner-only from the start, not only after the copy (issue #14)
        target = sqlite3.connect(str(copy))
        try:
            self._db.backup(target)
        finally:
            target.close()
        os.chmod(copy, 0o600)

    # -- writes ----------------------------------------------------------------------------
    def claim(self, kind: str, key: str, **fields: Any) -> tuple[JournalTransfer, bool]:
        if kind not in STATES:
            raise ValueError(f"kind must be 'send' or 'receive', not {kind!r}")
        _check_fields(fields)
        now = time.time()
        values = _encode(fields)
        columns = ["kind", "key", "state", "created_at", "updated_at", *values]
        params = [kind, key, INITIAL[kind], now, now, *values.values()]
        with self._lock, self._transaction():
            cursor = self._db.execute(
                f"INSERT INTO transfers ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                "ON CONFLICT (key) DO NOTHING", params)
            created = cursor.rowcount == 1
            row = self._db.execute("SELECT * FROM transfers WHERE key = ?", (key,)).fetchone()
            if created:
                self._db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (?, ?, ?, ?)",
                                 (row["id"], INITIAL[kind], now, "claimed"))
        return _transfer(row), created

    def move(self, transfer_id: int, state: str, *, note: str = "", **fields: Any) -> JournalTransfer:
        _check_fields(fields)
        now = time.time()
        values = _encode(fields)
        assignments = ", ".join(f"{c} = ?" for c in ["state", "updated_at", *values])
        with self._lock, self._transaction():
            row = self._db.execute("SELECT kind FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
            if row is None:
                raise JournalError(f"no transfer with id {transfer_id} in {self.path}")
            _check_state(row["kind"], state)
            self._db.execute(f"UPDATE transfers SET {assignments} WHERE id = ?",
                             (state, now, *values.values(), transfer_id))
            self._db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (?, ?, ?, ?)",
                             (transfer_id, state, now, note or fields.get("error") or ""))
            row = self._db.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
        return _transfer(row)

    # -- reads -----------------------------------------------------------------------------
    def get(self, key: str) -> JournalTransfer | None:
        return self._one("SELECT * FROM transfers WHERE key = ?", (key,))

    def get_id(self, transfer_id: int) -> JournalTransfer | None:
        return self._one("SELECT * FROM transfers WHERE id = ?", (transfer_id,))

    def list(self, kind: str | None = None, states: Iterable[str] | None = None, limit: int | None = 100, *,
             municipality: str | None = None, source: str | None = None, account: str | None = None,
             since: float | None = None, due_before: float | None = None) -> list[JournalTransfer]:
        where, params = _filters(kind=kind, municipality=municipality, source=source, account=account)
        if states is not None:
            states = list(states)
            where.append(f"state IN ({', '.join('?' * len(states))})" if states else "0")
            params.extend(states)
        if since is not None:
            where.append("updated_at >= ?")
            params.append(since)
        if due_before is not None:
            where.append("(next_attempt_at IS NULL OR next_attempt_at <= ?)")
            params.append(due_before)
        sql = "SELECT * FROM transfers" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY updated_at DESC, id DESC" + (" LIMIT ?" if limit is not None else "")
        params += [limit] if limit is not None else []
        with self._lock:
            return [_transfer(r) for r in self._db.execute(sql, params).fetchall()]

    def list_resends(self, limit: int | None = 100) -> list[JournalTransfer]:
        sql = ("SELECT * FROM transfers WHERE kind = 'send' AND json_extract(details, '$.resend_reason') IS NOT NULL "
               "ORDER BY created_at DESC, id DESC" + (" LIMIT ?" if limit is not None else ""))
        with self._lock:
            return [_transfer(r) for r in self._db.execute(sql, [limit] if limit is not None else []).fetchall()]

    def note_missing(self, municipality: str, source: str, deadline: float, opened: float,
                     at: float) -> MissingRecord | None:
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT INTO missing (municipality, source, deadline, opened, fired_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (municipality, source, deadline) DO NOTHING", (municipality, source, deadline, opened, at))
            row = self._db.execute("SELECT * FROM missing WHERE id = ?", (cursor.lastrowid,)).fetchone() \
                if cursor.rowcount == 1 else None
        return MissingRecord(**dict(row)) if row else None

    def clear_missing(self, record_id: int, at: float, arrived_at: float, transfer_id: int | None) -> bool:
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "UPDATE missing SET cleared_at = ?, arrived_at = ?, transfer_id = ? "
                "WHERE id = ? AND cleared_at IS NULL", (at, arrived_at, transfer_id, record_id))
        return cursor.rowcount == 1

    def list_missing(self, municipality: str | None = None, source: str | None = None, *,
                     open_only: bool = False) -> list[MissingRecord]:
        where, params = _filters(municipality=municipality, source=source)
        if open_only:
            where.append("cleared_at IS NULL")
        sql = "SELECT * FROM missing" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY deadline, id"
        with self._lock:
            return [MissingRecord(**dict(r)) for r in self._db.execute(sql, params).fetchall()]

    def history(self, transfer_id: int) -> list[tuple[str, float, str]]:
        with self._lock:
            rows = self._db.execute("SELECT state, at, note FROM history WHERE transfer_id = ? ORDER BY id",
                                    (transfer_id,)).fetchall()
        return [(r["state"], r["at"], r["note"]) for r in rows]

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, state, COUNT(*) AS n FROM transfers GROUP BY kind, state")
            return {(r["kind"], r["state"]): r["n"] for r in rows.fetchall()}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers ---------------------------------------------------------------------------
    def _one(self, sql: str, params: tuple) -> JournalTransfer | None:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return _transfer(row) if row else None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock at once: no upgrade deadlock between two writers.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _create_private(path: Path) -> None:
    """Create the journal owner-only: folder 0700, file 0600 (it names people's files, issue #14)."""
    from sf1630.privacy import private_dirs

    private_dirs(path.parent)  # every level made is 0700, not only the last (os.makedirs' mode)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # the umask may have taken bits away, never added; make it exact anyway


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _filters(**equal: Any) -> tuple[list[str], list[Any]]:
    pairs = [(k, v) for k, v in equal.items() if v is not None]
    return [f"{k} = ?" for k, _ in pairs], [v for _, v in pairs]


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    if "details" in out:
        out["details"] = json.dumps(out["details"] or {}, ensure_ascii=False, sort_keys=True)
    return out


def _transfer(row: sqlite3.Row) -> JournalTransfer:
    return JournalTransfer(
        id=row["id"], kind=row["kind"], key=row["key"], file_name=row["file_name"], account=row["account"],
        state=row["state"], municipality=row["municipality"], source=row["source"],
        file_transfer_uuid=row["file_transfer_uuid"], size=row["size"], rows=row["rows"], error=row["error"],
        details=json.loads(row["details"] or "{}"), period=row["period"], recipient=row["recipient"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
        updated_at=row["updated_at"])
