"""Copy a SQLite journal into a PostgreSQL one (``sf1630 journal migrate``, issue #21).

Both schemas have the same versions (``schema.py``, ``pgschema.py``), so every row is copied as
it is, ids included: history keeps pointing at its transfer, and an open transfer resumes on the
new journal from its journalled state. Processes and leases are not copied: they belong to the
processes of the old journal. It all happens in one transaction: a failed copy leaves nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sf1630.journal import describe
from sf1630.journal.base import JournalError
from sf1630.journal.sqlite import SqliteJournal

TABLES = ("transfers", "history", "missing", "problems", "requests")  # in this order: history refers to transfers


def copy_journal(source: Path, target_url: str, *, force: bool = False) -> dict[str, int]:
    """Copy every row of ``source`` into the journal at ``target_url``; the rows copied per table."""
    from sf1630.journal.postgres import PostgresJournal  # late: psycopg only when a site moves to PostgreSQL

    if not source.exists():
        raise JournalError(f"no journal at {source}: there is nothing to migrate")
    with SqliteJournal(source) as old:
        rows = {table: old.query(f"SELECT * FROM {table} ORDER BY id") for table in TABLES}
    new = PostgresJournal(target_url)
    with new:
        def copy(db: Any) -> None:
            held = {t: db.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in TABLES}
            if any(held.values()) and not force:
                filled = ", ".join(f"{t} {n}" for t, n in held.items() if n)
                raise JournalError(f"{describe(target_url)} already holds a journal ({filled} rows); migrate into "
                                   "an empty one, or add --force to replace what it holds")
            for table in (*reversed(TABLES), "leases", "processes"):
                db.execute(f"DELETE FROM {table}")
            for table in TABLES:
                _insert(db, table, rows[table])

        new.transaction(copy)
    return {table: len(found) for table, found in rows.items()}


def _insert(db: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        names, marks = ", ".join(columns), ", ".join(["%s"] * len(columns))
        with db.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                               [tuple(r[c] for c in columns) for r in rows])
    # New rows get ids after the copied ones.
    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
               f"GREATEST((SELECT max(id) FROM {table}), 1), (SELECT max(id) FROM {table}) IS NOT NULL)")
