"""The journal in one SQLite file: WAL, synchronous=FULL, writes committed in groups."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sf1630.journal import schema
from sf1630.journal.base import (INITIAL, Journal, JournalError, JournalTransfer, MissingRecord,
                                 check_fields, check_kind, check_state)
from sf1630.journal.rows import encode as _encode
from sf1630.journal.rows import transfer_of as _transfer
from sf1630.journal.states import kind_of
from sf1630.journal.group import GroupCommit, Write
from sf1630.journal.queries import ProblemWrites, SqlReads


class SqliteJournal(ProblemWrites, SqlReads, Journal):
    """The journal in one SQLite file, shared by the agent's threads and its event loop.

    Writes go through one connection; with ``group_commit`` (the default) the writes of concurrent
    threads share a transaction and its sync (see ``group.py``); if that transaction fails, each
    write is applied again alone, so a bad write fails only its own caller. Reads use a second
    connection: in WAL mode they see every committed write and never wait for a commit's sync.
    """

    MARK = "?"

    def __init__(self, path: Path, *, busy_timeout: float = 30.0, group_commit: bool = True):
        self.path = path
        self._write_lock, self._read_lock = threading.Lock(), threading.Lock()
        self._group = GroupCommit(self._apply) if group_commit else None
        schema.create_private(path)
        self._db = _connect(path, busy_timeout)
        self._reader: sqlite3.Connection | None = None
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")  # durable at each commit: the point of a journal
            self._db.execute("PRAGMA foreign_keys = ON")
            schema.migrate(self._db, path)
            self._reader = _connect(path, busy_timeout)
            self._reader.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            self._close_connections()
            raise JournalError(f"{path}: cannot use the journal: {exc}") from exc
        except BaseException:
            self._close_connections()
            raise

    # -- writes ----------------------------------------------------------------------------
    def claim(self, kind: str, key: str, **fields: Any) -> tuple[JournalTransfer, bool]:
        check_kind(kind)
        check_fields(fields)
        now, values = time.time(), _encode(fields)
        columns = ["kind", "key", "state", "created_at", "updated_at", *values]
        params = [kind, key, INITIAL[kind], now, now, *values.values()]
        insert = (f"INSERT INTO transfers ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                  "ON CONFLICT (key) DO NOTHING")

        def write(db: sqlite3.Connection) -> tuple[JournalTransfer, bool]:
            created = db.execute(insert, params).rowcount == 1
            row = db.execute("SELECT * FROM transfers WHERE key = ?", (key,)).fetchone()
            if created:
                db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (?, ?, ?, ?)",
                           (row["id"], INITIAL[kind], now, "claimed"))
            return _transfer(row), created

        return self._write(write)

    def move(self, transfer_id: int, state: str, *, note: str = "", **fields: Any) -> JournalTransfer:
        check_fields(fields)
        now, values = time.time(), _encode(fields)
        assignments = ", ".join(f"{c} = ?" for c in ["state", "updated_at", *values])
        params = (state, now, *values.values(), transfer_id, kind_of(state))
        note = note or fields.get("error") or ""

        def write(db: sqlite3.Connection) -> JournalTransfer:
            # Few statements on purpose: each one lets go of the GIL, and taking it back from a
            # busy event loop can cost milliseconds (issue #9). The checks run only on a miss.
            if db.execute(f"UPDATE transfers SET {assignments} WHERE id = ? AND kind = ?", params).rowcount != 1:
                row = db.execute("SELECT kind FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
                if row is None:
                    raise JournalError(f"no transfer with id {transfer_id} in {self.path}")
                check_state(row["kind"], state)
            db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (?, ?, ?, ?)",
                       (transfer_id, state, now, note))
            return _transfer(db.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)).fetchone())

        return self._write(write)

    def note_missing(self, municipality: str, source: str, deadline: float, opened: float,
                     at: float) -> MissingRecord | None:
        def write(db: sqlite3.Connection) -> MissingRecord | None:
            cursor = db.execute(
                "INSERT INTO missing (municipality, source, deadline, opened, fired_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (municipality, source, deadline) DO NOTHING", (municipality, source, deadline, opened, at))
            if cursor.rowcount != 1:
                return None
            row = db.execute("SELECT * FROM missing WHERE id = ?", (cursor.lastrowid,)).fetchone()
            return MissingRecord(**dict(row))

        return self._write(write)

    def clear_missing(self, record_id: int, at: float, arrived_at: float, transfer_id: int | None) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            return db.execute("UPDATE missing SET cleared_at = ?, arrived_at = ?, transfer_id = ? "
                              "WHERE id = ? AND cleared_at IS NULL",
                              (at, arrived_at, transfer_id, record_id)).rowcount == 1

        return self._write(write)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        statement, values = sql.replace("%s", "?"), tuple(params)
        return self._write(lambda db: [dict(r) for r in db.execute(statement, values).fetchall()])

    # -- reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self._read(sql.replace("%s", "?"), params)]

    def _rows(self, sql: str, params: Iterable[Any]) -> list[Any]:
        return self._read(sql, params)

    def list_resends(self, limit: int | None = 100) -> list[JournalTransfer]:
        sql = ("SELECT * FROM transfers WHERE kind = 'send' AND json_extract(details, '$.resend_reason') IS NOT NULL "
               "ORDER BY created_at DESC, id DESC" + (" LIMIT ?" if limit is not None else ""))
        return [_transfer(r) for r in self._read(sql, [limit] if limit is not None else [])]

    def close(self) -> None:
        self._close_connections()

    # -- the write path --------------------------------------------------------------------
    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        if self._group is not None:
            return self._group.run(fn)
        write = Write(fn)  # one transaction and one sync per write
        with self._write_lock:
            self._apply_alone(write)
        if write.error is not None:
            raise write.error
        return write.result

    def _apply(self, batch: list[Write]) -> None:
        with self._write_lock:
            if len(batch) > 1 and self._apply_together(batch):
                return
            # Alone, or the shared transaction failed (a bad write, a full disk): each write in a
            # transaction of its own, so that each caller gets the outcome of its own write.
            for w in batch:
                self._apply_alone(w)

    def _apply_together(self, batch: list[Write]) -> bool:
        """Apply ``batch`` in one transaction; False, with nothing kept, when any write of it failed."""
        try:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock at once: no upgrade deadlock
        except sqlite3.Error as exc:  # busy past the timeout, or closed: each write would fail alike
            for w in batch:
                w.error = exc
            return True
        try:
            results = [w.fn(self._db) for w in batch]
            self._db.execute("COMMIT")
        except Exception:
            self._rollback()
            return False
        except BaseException:
            self._rollback()
            raise
        for w, result in zip(batch, results):
            w.result = result
        return True

    def _apply_alone(self, write: Write) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = write.fn(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            write.result = result
        except Exception as exc:
            write.error = exc

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is broken; the next BEGIN reports it to its caller

    # -- helpers ---------------------------------------------------------------------------
    def _read(self, sql: str, params: Iterable[Any]) -> list[sqlite3.Row]:
        with self._read_lock:
            if self._reader is None:
                raise JournalError(f"{self.path}: the journal is closed")
            return self._reader.execute(sql, tuple(params)).fetchall()

    def _close_connections(self) -> None:
        with self._write_lock:
            self._db.close()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # timeout= is SQLite's busy timeout; autocommit (isolation_level=None): transactions are ours.
    db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    return db

