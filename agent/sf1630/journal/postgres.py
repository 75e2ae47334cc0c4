"""The journal in PostgreSQL: several processes and hosts share one site (issue #21).

Same interface and schema versions as the SQLite journal. Writes go through one connection, the
writes of concurrent threads share a transaction (``group.py``); reads use a second connection in
autocommit. A connection the server dropped (a restart, a failover) is opened again at the next
use; a write that was under way when it dropped fails its caller with ``JournalError``, so the
step is retried from its journalled state, as after a crash.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import DictRow, dict_row

from sf1630.journal import pgschema
from sf1630.journal.fence import Fence, LeaseLost, current
from sf1630.journal.base import (INITIAL, Journal, JournalError, JournalTransfer, MissingRecord,
                                 check_fields, check_kind, check_state)
from sf1630.journal.group import GroupCommit, Write
from sf1630.journal.queries import ProblemWrites, SqlReads
from sf1630.journal.rows import encode, transfer_of
from sf1630.journal.states import kind_of

Db = psycopg.Connection[DictRow]  # every connection of the journal returns rows as dicts

CONNECT_TIMEOUT = 10  # seconds; a host that does not answer is reported, not waited for


def describe(url: str) -> str:
    """The URL without its password, for messages and ``status``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresJournal(ProblemWrites, SqlReads, Journal):
    """The journal in a PostgreSQL database (its tables in the connection's ``search_path``).

    A write made under a lease (``fence.current()``) first checks, in its own transaction, that the
    lease is still this process's with the same epoch; if not it fails with ``LeaseLost``.
    """

    shared = True
    MARK, LOCK = "%s", " FOR UPDATE"  # queries.py's placeholder; the open problem's row locked

    def __init__(self, url: str, *, group_commit: bool = True):
        self.url, self.where = url, describe(url)
        self._write_lock, self._read_lock = threading.Lock(), threading.Lock()
        self._group = GroupCommit(self._apply) if group_commit else None
        self._db: Db | None = None
        self._reader: Db | None = None
        self._closed = False
        try:
            self._db = self._connect(autocommit=False)
            pgschema.migrate(self._db, self.where)
        except psycopg.Error as exc:
            self.close()
            raise JournalError(f"{self.where}: cannot use the journal: {_first_line(exc)}") from None
        except BaseException:
            self.close()
            raise

    # -- writes ----------------------------------------------------------------------------
    def claim(self, kind: str, key: str, **fields: Any) -> tuple[JournalTransfer, bool]:
        check_kind(kind)
        check_fields(fields)
        now, values = time.time(), encode(fields)
        columns = ["kind", "key", "state", "created_at", "updated_at", *values]
        params = [kind, key, INITIAL[kind], now, now, *values.values()]
        insert = (f"INSERT INTO transfers ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                  "ON CONFLICT (key) DO NOTHING RETURNING id")

        def write(db: Db) -> tuple[JournalTransfer, bool]:
            created = db.execute(insert, params).fetchone() is not None
            row = db.execute("SELECT * FROM transfers WHERE key = %s", (key,)).fetchone()
            if row is None:
                raise JournalError(f"{self.where}: transfer {key} vanished while it was claimed")
            if created:
                db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (%s, %s, %s, %s)",
                           (row["id"], INITIAL[kind], now, "claimed"))
            return transfer_of(row), created

        return self._write(write)

    def move(self, transfer_id: int, state: str, *, note: str = "", **fields: Any) -> JournalTransfer:
        check_fields(fields)
        now, values = time.time(), encode(fields)
        assignments = ", ".join(f"{c} = %s" for c in ["state", "updated_at", *values])
        params = (state, now, *values.values(), transfer_id, kind_of(state))
        note = note or fields.get("error") or ""

        def write(db: Db) -> JournalTransfer:
            row = db.execute(f"UPDATE transfers SET {assignments} WHERE id = %s AND kind = %s RETURNING *",
                             params).fetchone()
            if row is None:
                found = db.execute("SELECT kind FROM transfers WHERE id = %s", (transfer_id,)).fetchone()
                if found is None:
                    raise JournalError(f"no transfer with id {transfer_id} in {self.where}")
                check_state(found["kind"], state)
            db.execute("INSERT INTO history (transfer_id, state, at, note) VALUES (%s, %s, %s, %s)",
                       (transfer_id, state, now, note))
            return transfer_of(row)

        return self._write(write)

    def note_missing(self, municipality: str, source: str, deadline: float, opened: float,
                     at: float) -> MissingRecord | None:
        def write(db: Db) -> MissingRecord | None:
            row = db.execute(
                "INSERT INTO missing (municipality, source, deadline, opened, fired_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (municipality, source, deadline) DO NOTHING RETURNING *",
                (municipality, source, deadline, opened, at)).fetchone()
            return MissingRecord(**row) if row else None

        return self._write(write)

    def clear_missing(self, record_id: int, at: float, arrived_at: float, transfer_id: int | None) -> bool:
        def write(db: Db) -> bool:
            return db.execute("UPDATE missing SET cleared_at = %s, arrived_at = %s, transfer_id = %s "
                              "WHERE id = %s AND cleared_at IS NULL",
                              (at, arrived_at, transfer_id, record_id)).rowcount == 1

        return self._write(write)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        values = tuple(params)

        def write(db: Db) -> list[dict[str, Any]]:
            cursor = db.execute(sql, values)
            return cursor.fetchall() if cursor.description else []

        return self._write(write)

    def transaction(self, fn: Callable[[Db], Any]) -> Any:
        """Run ``fn(connection)`` in a durable transaction, never fenced (the leases' own bookkeeping)."""
        return self._write(fn, fence=None)

    # -- reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return self.read(sql, params)

    def _rows(self, sql: str, params: Iterable[Any]) -> list[Any]:
        return self.read(sql, params)

    def list_resends(self, limit: int | None = 100) -> list[JournalTransfer]:
        sql = ("SELECT * FROM transfers WHERE kind = 'send' AND (details::jsonb ->> 'resend_reason') IS NOT NULL "
               "ORDER BY created_at DESC, id DESC" + (" LIMIT %s" if limit is not None else ""))
        return [transfer_of(r) for r in self.read(sql, [limit] if limit is not None else [])]

    def close(self) -> None:
        self._closed = True
        with self._write_lock:
            if self._db is not None:
                self._db.close()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()

    # -- the connections -------------------------------------------------------------------
    def read(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        """Rows of a query; a connection the server dropped is opened again and the query run once more."""
        with self._read_lock:
            for attempt in (1, 2):
                try:
                    if self._reader is None or self._reader.closed:
                        self._reader = self._connect(autocommit=True)
                    return self._reader.execute(sql, tuple(params)).fetchall()
                except psycopg.OperationalError as exc:
                    if self._reader is not None:
                        self._reader.close()
                    if attempt == 2 or self._closed:
                        raise JournalError(f"{self.where}: cannot read the journal: {_first_line(exc)}") from None
        raise AssertionError("unreachable")

    def _connect(self, *, autocommit: bool) -> Db:
        if self._closed:
            raise JournalError(f"{self.where}: the journal is closed")
        try:
            return psycopg.connect(self.url, autocommit=autocommit, row_factory=dict_row,
                                   connect_timeout=CONNECT_TIMEOUT,
                                   application_name=f"sf1630 pid {os.getpid()}")  # pg_stat_activity names us
        except psycopg.OperationalError as exc:
            raise JournalError(f"{self.where}: cannot connect to the journal database: {_first_line(exc)}; "
                               "check the URL, that PostgreSQL runs and that it lets this user in") from None

    def _write(self, fn: Callable[[Db], Any], fence: Fence | None | bool = True) -> Any:
        fence = current() if fence is True else fence  # taken here, in the caller's context
        if fence:
            fence.check()
            fn = _fenced(fn, fence)
        if self._group is not None:
            return self._group.run(fn)
        write = Write(fn)
        with self._write_lock:
            self._apply_alone(write)
        if write.error is not None:
            raise write.error
        return write.result

    def _apply(self, batch: list[Write]) -> None:
        with self._write_lock:
            if len(batch) > 1 and self._apply_together(batch):
                return
            for w in batch:  # alone, or the shared transaction failed: each write its own outcome
                self._apply_alone(w)

    def _apply_together(self, batch: list[Write]) -> bool:
        try:
            results = self._attempt(lambda db: [w.fn(db) for w in batch])
        except Exception:
            return False
        for w, result in zip(batch, results):
            w.result = result
        return True

    def _apply_alone(self, write: Write) -> None:
        try:
            write.result = self._attempt(write.fn)
        except LeaseLost as exc:
            write.error = exc
        except psycopg.Error as exc:
            write.error = JournalError(f"{self.where}: the journal write failed: {_first_line(exc)}; "
                                       "the step is retried from its journalled state")
        except Exception as exc:
            write.error = exc

    def _attempt(self, fn: Callable[[Db], Any]) -> Any:
        """Run ``fn`` and commit. A connection found dead before the commit was sent (the server
        restarted while it was idle) is opened again and ``fn`` run once more: nothing of it was kept.
        A failure of the commit itself is not retried: whether it was kept is unknown."""
        for attempt in (1, 2):
            db = self._writer()
            try:
                result = fn(db)
            except psycopg.OperationalError:
                self._rollback()
                if attempt == 2 or not db.broken:
                    raise
                continue
            except BaseException:
                self._rollback()
                raise
            try:
                db.commit()
            except BaseException:
                self._rollback()
                raise
            return result
        raise AssertionError("unreachable")

    def _writer(self) -> Db:
        if self._db is None or self._db.closed or self._db.broken:
            if self._db is not None:
                self._db.close()
            self._db = self._connect(autocommit=False)
        return self._db

    def _rollback(self) -> None:
        try:
            if self._db is not None and not self._db.closed:
                self._db.rollback()
        except psycopg.Error:
            if self._db is not None:
                self._db.close()  # broken: the next write opens a new one


def _fenced(fn: Callable[[Db], Any], fence: Fence) -> Callable[[Db], Any]:
    """``fn`` preceded, in its transaction, by the check that ``fence``'s lease is still held."""

    def write(db: Db) -> Any:
        # FOR SHARE: a takeover (an UPDATE of this row) waits until this transaction is over.
        held = db.execute("SELECT 1 FROM leases WHERE unit = %s AND holder = %s AND epoch = %s "
                          "AND expires_at >= extract(epoch FROM clock_timestamp()) FOR SHARE",
                          (fence.unit, fence.holder, fence.epoch)).fetchone()
        if held is None:
            fence.lost = True
            raise LeaseLost(f"{fence.unit}: this process lost its lease (epoch {fence.epoch}); the write was "
                            "not made, another process continues the work from the journal")
        return fn(db)

    return write


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def stored_version(url: str) -> int:
    """The schema version of the journal at ``url``, read without changing it (0: none there yet)."""
    where = describe(url)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            found = conn.execute("SELECT to_regclass('schema_version')").fetchone()
            if found is None or found[0] is None:
                return 0
            row = conn.execute("SELECT version FROM schema_version").fetchone()
    except psycopg.Error as exc:
        raise JournalError(f"{where}: cannot read the journal: {_first_line(exc)}") from None
    return row[0] if row else 0
