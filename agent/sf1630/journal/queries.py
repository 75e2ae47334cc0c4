"""The journal's reads and its problem records, written once for both backends.

The SQL differs between SQLite and PostgreSQL only in the parameter mark (``?`` or ``%s``), so each
statement is built here from the backend's ``mark``; the backends only run it (sqlite.py, postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sf1630.journal.base import JournalTransfer, MissingRecord, ProblemRecord
from sf1630.journal.rows import transfer_of

PROBLEM_WHERE = ("municipality", "source", "account", "file_name")
COUNTS = "SELECT kind, state, COUNT(*) AS n FROM transfers GROUP BY kind, state"


def equal(mark: str, **values: Any) -> tuple[list[str], list[Any]]:
    """``column = mark`` for each value given (None: not filtered), and the parameters."""
    pairs = [(k, v) for k, v in values.items() if v is not None]
    return [f"{k} = {mark}" for k, _ in pairs], [v for _, v in pairs]


def transfers(mark: str, kind: str | None, states: Iterable[str] | None, limit: int | None, *,
              municipality: str | None, source: str | None, account: str | None, since: float | None,
              due_before: float | None) -> tuple[str, list[Any]]:
    """The ``Journal.transfers`` query: filtered, most recently changed first."""
    where, params = equal(mark, kind=kind, municipality=municipality, source=source, account=account)
    if states is not None:
        chosen = [str(s) for s in states]
        where.append(f"state IN ({', '.join([mark] * len(chosen))})" if chosen else "1 = 0")
        params.extend(chosen)
    if since is not None:
        where.append(f"updated_at >= {mark}")
        params.append(since)
    if due_before is not None:
        where.append(f"(next_attempt_at IS NULL OR next_attempt_at <= {mark})")
        params.append(due_before)
    sql = "SELECT * FROM transfers" + _where(where) + " ORDER BY updated_at DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {mark}"
        params.append(limit)
    return sql, params


def missing(mark: str, municipality: str | None, source: str | None, open_only: bool) -> tuple[str, list[Any]]:
    """The ``Journal.list_missing`` query, oldest deadline first."""
    where, params = equal(mark, municipality=municipality, source=source)
    if open_only:
        where.append("cleared_at IS NULL")
    return "SELECT * FROM missing" + _where(where) + " ORDER BY deadline, id", params


def history(mark: str) -> str:
    """The states of one transfer, oldest first."""
    return f"SELECT state, at, note FROM history WHERE transfer_id = {mark} ORDER BY id"


def problems(mark: str, kind: str | None, open_only: bool) -> tuple[str, list[Any]]:
    """The ``Journal.list_problems`` query, oldest first."""
    where, params = equal(mark, kind=kind)
    if open_only:
        where.append("resolved_at IS NULL")
    return "SELECT * FROM problems" + _where(where) + " ORDER BY since, id", params


def _where(parts: list[str]) -> str:
    return f" WHERE {' AND '.join(parts)}" if parts else ""


class ProblemWrites:
    """note_problem and resolve_problem for a backend with ``MARK``, ``LOCK`` and ``_write(fn)``.

    ``_write`` runs ``fn(connection)`` in one durable transaction; rows read back must turn into a
    dict (sqlite3.Row and psycopg's dict rows both do). ``LOCK`` takes the open record's row for the
    transaction where the backend has row locks (PostgreSQL); SQLite writes one at a time anyway.
    """

    MARK: str
    LOCK: str = ""
    _write: Any

    def note_problem(self, kind: str, key: str, message: str, at: float,
                     **where: str | None) -> tuple[ProblemRecord, bool]:
        unknown = set(where) - set(PROBLEM_WHERE)
        if unknown:
            raise TypeError(f"note_problem: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(PROBLEM_WHERE)}")
        m = self.MARK
        columns = ["kind", "key", "message", "since", "seen_at", *where]
        params = [kind, key, message, at, at, *where.values()]

        def write(db: Any) -> tuple[ProblemRecord, bool]:
            # The open record of (kind, key) is unique (a partial index): updated, or made.
            found = db.execute(f"SELECT id FROM problems WHERE kind = {m} AND key = {m} AND resolved_at IS NULL"
                               f"{self.LOCK}", (kind, key)).fetchall()
            if not found:
                row = db.execute(f"INSERT INTO problems ({', '.join(columns)}) VALUES "
                                 f"({', '.join([m] * len(columns))}) RETURNING *", params).fetchall()[0]
                return ProblemRecord(**dict(row)), True
            row = db.execute(f"UPDATE problems SET message = {m}, seen_at = {m} WHERE id = {m} RETURNING *",
                             (message, at, dict(found[0])["id"])).fetchall()[0]
            return ProblemRecord(**dict(row)), False

        return self._write(write)

    def resolve_problem(self, kind: str | None, key: str | None, at: float, by: str, *,
                        problem_id: int | None = None) -> list[ProblemRecord]:
        m = self.MARK
        where, params = equal(m, kind=kind, key=key, id=problem_id)
        if not where:
            raise ValueError("resolve_problem: give a kind and key, or a problem id")

        def write(db: Any) -> list[ProblemRecord]:
            rows = db.execute(f"UPDATE problems SET resolved_at = {m}, resolved_by = {m} WHERE resolved_at IS NULL "
                              f"AND {' AND '.join(where)} RETURNING *", (at, by, *params)).fetchall()
            return [ProblemRecord(**dict(r)) for r in rows]

        return self._write(write)


class SqlReads:
    """The journal's reads for a backend with ``MARK`` and ``_rows(sql, params)`` (rows that turn into dicts)."""

    MARK: str

    def _rows(self, sql: str, params: Iterable[Any]) -> list[Any]:
        raise NotImplementedError

    def get(self, key: str) -> JournalTransfer | None:
        rows = self._rows(f"SELECT * FROM transfers WHERE key = {self.MARK}", (key,))
        return transfer_of(rows[0]) if rows else None

    def get_id(self, transfer_id: int) -> JournalTransfer | None:
        rows = self._rows(f"SELECT * FROM transfers WHERE id = {self.MARK}", (transfer_id,))
        return transfer_of(rows[0]) if rows else None

    def transfers(self, kind: str | None = None, states: Iterable[str] | None = None, limit: int | None = 100, *,
                  municipality: str | None = None, source: str | None = None, account: str | None = None,
                  since: float | None = None, due_before: float | None = None) -> list[JournalTransfer]:
        sql, params = transfers(self.MARK, kind, states, limit, municipality=municipality, source=source,
                                account=account, since=since, due_before=due_before)
        return [transfer_of(r) for r in self._rows(sql, params)]

    def list_missing(self, municipality: str | None = None, source: str | None = None, *,
                     open_only: bool = False) -> list[MissingRecord]:
        sql, params = missing(self.MARK, municipality, source, open_only)
        return [MissingRecord(**dict(r)) for r in self._rows(sql, params)]

    def list_problems(self, kind: str | None = None, *, open_only: bool = True) -> list[ProblemRecord]:
        sql, params = problems(self.MARK, kind, open_only)
        return [ProblemRecord(**dict(r)) for r in self._rows(sql, params)]

    def history(self, transfer_id: int) -> list[tuple[str, float, str]]:
        return [(r["state"], r["at"], r["note"]) for r in self._rows(history(self.MARK), (transfer_id,))]

    def counts(self) -> dict[tuple[str, str], int]:
        return {(r["kind"], r["state"]): r["n"] for r in self._rows(COUNTS, ())}
