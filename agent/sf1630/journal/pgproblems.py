"""The ``problems`` records of the PostgreSQL journal (issue #17), as ``sqlite.py`` keeps them.

A mixin of :class:`~sf1630.journal.postgres.PostgresJournal`: it needs the journal's ``_write`` (a
function of a connection, committed durably) and ``read``.
"""

from __future__ import annotations

from typing import Any

from sf1630.journal.base import ProblemRecord

PROBLEM_WHERE = ("municipality", "source", "account", "file_name")


class PgProblems:
    """note_problem, resolve_problem and list_problems over PostgreSQL."""

    _write: Any
    read: Any

    def note_problem(self, kind: str, key: str, message: str, at: float,
                     **where: str | None) -> tuple[ProblemRecord, bool]:
        unknown = set(where) - set(PROBLEM_WHERE)
        if unknown:
            raise TypeError(f"note_problem: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(PROBLEM_WHERE)}")
        columns = ["kind", "key", "message", "since", "seen_at", *where]
        params = [kind, key, message, at, at, *where.values()]

        def write(db: Any) -> tuple[ProblemRecord, bool]:
            # The open record of (kind, key) is unique (a partial index): taken FOR UPDATE, or made.
            row = db.execute("SELECT id FROM problems WHERE kind = %s AND key = %s AND resolved_at IS NULL "
                             "FOR UPDATE", (kind, key)).fetchone()
            if row is None:
                found = db.execute(f"INSERT INTO problems ({', '.join(columns)}) VALUES "
                                   f"({', '.join(['%s'] * len(columns))}) RETURNING *", params).fetchone()
                return ProblemRecord(**found), True
            found = db.execute("UPDATE problems SET message = %s, seen_at = %s WHERE id = %s RETURNING *",
                               (message, at, row["id"])).fetchone()
            return ProblemRecord(**found), False

        return self._write(write)

    def resolve_problem(self, kind: str | None, key: str | None, at: float, by: str, *,
                        problem_id: int | None = None) -> list[ProblemRecord]:
        where, params = _filters(kind=kind, key=key, id=problem_id)
        if not where:
            raise ValueError("resolve_problem: give a kind and key, or a problem id")

        def write(db: Any) -> list[ProblemRecord]:
            rows = db.execute(f"UPDATE problems SET resolved_at = %s, resolved_by = %s WHERE resolved_at IS NULL "
                              f"AND {' AND '.join(where)} RETURNING *", (at, by, *params)).fetchall()
            return [ProblemRecord(**r) for r in rows]

        return self._write(write)

    def list_problems(self, kind: str | None = None, *, open_only: bool = True) -> list[ProblemRecord]:
        where, params = _filters(kind=kind)
        if open_only:
            where.append("resolved_at IS NULL")
        sql = "SELECT * FROM problems" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY since, id"
        return [ProblemRecord(**r) for r in self.read(sql, params)]


def _filters(**equal: Any) -> tuple[list[str], list[Any]]:
    pairs = [(k, v) for k, v in equal.items() if v is not None]
    return [f"{k} = %s" for k, _ in pairs], [v for _, v in pairs]
