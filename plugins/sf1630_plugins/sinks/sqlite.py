"""The ``sqlite`` sink, the embedded default: a table per source and a ``deliveries`` table.

Each delivered file goes into the table named after its source code (``ky``, ``dubu``, ...; see
``sinks/table.py`` for how columns are typed and how a changed header is handled). The
``deliveries`` table has one row per FileTransferUUID loaded, so loading the same delivery again
adds nothing and returns ``duplicate=True``. The whole load is one transaction: a failure leaves
neither rows nor a ``deliveries`` row. The database file is created owner-only (0600).
"""

from __future__ import annotations

import csv
import itertools
import operator
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option, redact
from sf1630.transport.privacy import create_private
from sf1630_plugins.sinks.table import (
    INTEGER, META, REAL, TEXT, Plan, TableOptions, check_kinds, classify, merge, plan, sample_types, table_name,
)

DELIVERIES = """CREATE TABLE IF NOT EXISTS deliveries (
    file_transfer_uuid TEXT PRIMARY KEY, file_name TEXT NOT NULL, sender TEXT, recipient TEXT,
    source TEXT, table_name TEXT NOT NULL, rows INTEGER NOT NULL, size INTEGER, loaded_at TEXT NOT NULL)"""


@dataclass
class Options(TableOptions):
    """``[[receive.sinks]] type = "sqlite"`` options."""

    path: Path = option(Path("sf1630-lis.sqlite3"), "the SQLite database file; created (0600) when missing")
    timeout: float = option(30.0, "seconds to wait for another writer's lock before failing the load")


class SqliteSink:
    """Loads deliveries into a SQLite database."""

    name = "sqlite"
    api_version = API_VERSION
    Options = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Load ``path`` in one transaction; a FileTransferUUID loaded before adds nothing."""
        header, kinds = sample_types(path, options.types)
        table = table_name(delivery, options)
        conn = connect(options.path, options.timeout)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(DELIVERIES)
            done = conn.execute("SELECT table_name FROM deliveries WHERE file_transfer_uuid = ?",
                                (delivery.file_transfer_uuid,)).fetchone()
            if done:
                conn.execute("ROLLBACK")
                return LoadResult(0, done[0], duplicate=True)
            steps, rows = load_rows(conn, table, path, header, kinds, options.schema == "strict",
                                    delivery.file_transfer_uuid)
            conn.execute("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (delivery.file_transfer_uuid, delivery.file_name, delivery.sender, delivery.recipient,
                          delivery.source, table, rows, delivery.size, time.strftime("%Y-%m-%dT%H:%M:%S")))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.rollback()
            text = redact(str(exc), [*header, table])
            raise LoadError(f"{delivery.file_name}: SQLite refused the load ({text}); nothing was loaded") from None
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
        return LoadResult(rows, table, changes=steps.changes)

    def check(self, options: Options, timeout: float = 10.0) -> str:
        """For ``sf1630 doctor``: the database takes a write (tried, rolled back); a missing one can be made."""
        path = Path(options.path)
        if not path.exists():
            return _creatable(path)
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")  # takes the write lock a load takes
                conn.execute("CREATE TABLE sf1630_doctor_probe (x INTEGER)")
                conn.execute("INSERT INTO sf1630_doctor_probe VALUES (1)")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise LoadError(f"sqlite sink: {path}: {exc}") from None
        return f"{path}: may create tables and insert (tried, rolled back)"


def _creatable(path: Path) -> str:
    """A database not made yet: the first load makes it, if the nearest existing folder lets it."""
    folder = next((p for p in path.parents if p.exists()), Path("/"))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LoadError(f"sqlite sink: {path} does not exist and {folder} is not writable by this user; "
                        f"create {path.parent} owned by the agent's user (mode 0700)")
    return f"{path} not created yet; the first load creates it in {folder}"


def connect(path: Path, timeout: float = 30.0) -> sqlite3.Connection:
    """Open (creating owner-only) the database, in autocommit mode: transactions are explicit."""
    path = Path(path)
    if not path.exists():
        create_private(path)  # issue #14: owner-only file, and 0700 for each folder made for it
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: a big load keeps its table and index pages in memory
    return conn


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """The table's columns with their type class; empty when there is no such table."""
    return [(row[1], affinity(row[2])) for row in conn.execute(f"PRAGMA table_info({quote(table)})")]


def affinity(declared: str) -> str:
    """The type class of a declared column type, by SQLite's affinity rules."""
    declared = declared.upper()
    if "INT" in declared:
        return "INTEGER"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")) or not declared:
        return TEXT
    return "REAL" if any(word in declared for word in ("REAL", "FLOA", "DOUB", "NUM", "DEC")) else TEXT


def prepare(conn: sqlite3.Connection, table: str, header: list[str], kinds: list, strict: bool) -> Plan:
    """Create the table if missing, else add and widen columns as the file needs (issue #14)."""
    if not columns(conn, table):
        defs = [f"{quote(n)} {k or TEXT}" for n, k in [*zip(header, kinds), *META]]
        conn.execute(f"CREATE TABLE {quote(table)} ({', '.join(defs)})")
        conn.execute(f"CREATE INDEX {quote(table + '_delivery')} ON {quote(table)} ({quote(META[0][0])})")
    steps = plan(table, columns(conn, table), header, kinds, strict)
    for name, kind in steps.add:
        conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} {kind}")
    if steps.widen:
        widen(conn, table, set(steps.widen))
    return steps


def widen(conn: sqlite3.Connection, table: str, names: set[str]) -> None:
    """Make columns TEXT: SQLite cannot change a column's type, so the table is rebuilt."""
    cols = [(n, TEXT if n in names else k) for n, k in columns(conn, table)]
    indexes = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                           (table,)).fetchall()
    scratch = quote(table + "__widening")
    conn.execute("PRAGMA legacy_alter_table = ON")  # keep views that name the table intact
    conn.execute(f"CREATE TABLE {scratch} ({', '.join(f'{quote(n)} {k}' for n, k in cols)})")
    conn.execute(f"INSERT INTO {scratch} SELECT * FROM {quote(table)}")
    conn.execute(f"DROP TABLE {quote(table)}")
    conn.execute(f"ALTER TABLE {scratch} RENAME TO {quote(table)}")
    conn.execute("PRAGMA legacy_alter_table = OFF")
    for (sql,) in indexes:
        conn.execute(sql)


def load_rows(conn: sqlite3.Connection, table: str, path: Path, header: list[str], sampled: list,
              strict: bool, uuid: str) -> tuple[Plan, int]:
    """Prepare the table from the sampled types and insert every row; if a later value does not fit
    the sample, undo and do it again with the types of the whole file (found while inserting)."""
    found = list(sampled)
    conn.execute("SAVEPOINT sf1630_rows")
    steps, rows = _attempt(conn, table, path, header, sampled, strict, uuid, found)
    if found != sampled:
        conn.execute("ROLLBACK TO sf1630_rows")
        steps, rows = _attempt(conn, table, path, header, found, strict, uuid, list(found))
    conn.execute("RELEASE sf1630_rows")
    return steps, rows


def _attempt(conn: sqlite3.Connection, table: str, path: Path, header: list[str], kinds: list, strict: bool,
             uuid: str, found: list) -> tuple[Plan, int]:
    existing = {name.lower(): kind for name, kind in columns(conn, table)}
    checks = check_kinds(kinds, existing, header)
    steps = prepare(conn, table, header, kinds, strict)
    return steps, insert(conn, table, path, header, steps, checks, uuid, found)


# Every value is checked by SQLite itself against the type the sample promised; a check may only
# pass values that table.classify accepts. A value that fails calls back into Python, which notes
# its exact type (so a rare false alarm, like "-0", costs a call and changes nothing).
_INTEGER_OK = "(CAST(CAST({p} AS INTEGER) AS TEXT) = {p} AND length({p}) <= 18)"
_REAL_OK = ("(({p} GLOB '[0-9]*' OR {p} GLOB '-[0-9]*') AND NOT ({p} GLOB '0[0-9]*' OR {p} GLOB '-0[0-9]*')"
            " AND substr({p}, 2) NOT GLOB '*[^0-9.]*' AND {p} NOT GLOB '*.*.*' AND {p} NOT GLOB '*.')")


def _value(number: int, check: str | None) -> str:
    """The SQL for one field: NULL when empty, else the text (the column's affinity makes numbers)."""
    p = f"?{number}"
    if check == TEXT:
        return f"NULLIF({p}, '')"
    ok = {INTEGER: _INTEGER_OK, REAL: _REAL_OK}.get(check, "0").format(p=p)
    return f"CASE WHEN {p} = '' THEN NULL WHEN {ok} THEN {p} ELSE sf1630_unexpected({number - 1}, {p}) END"


def insert(conn: sqlite3.Connection, table: str, path: Path, header: list[str], steps: Plan, checks: list,
           uuid: str, found: list) -> int:
    """Insert every row; returns how many. ``found`` gets the type of each value that fails its check."""
    targets = [steps.names[n] for n in header] + [steps.names[n] for n, _ in META]
    values = [_value(i, k) for i, k in enumerate(checks, 1)] + ["'" + uuid.replace("'", "''") + "'",
                                                                 f"?{len(header) + 1}"]
    sql = f"INSERT INTO {quote(table)} ({', '.join(quote(t) for t in targets)}) VALUES ({', '.join(values)})"

    def unexpected(index: int, value: str) -> str:
        found[index] = merge(found[index], classify(value))
        return value

    conn.create_function("sf1630_unexpected", 2, unexpected)
    conn.execute("SAVEPOINT sf1630_insert")
    rows, lines = _execute(conn, sql, path, len(header), by_line=False)
    if lines != rows + 1:  # a blank line or a field over several lines: number rows by their own lines
        conn.execute("ROLLBACK TO sf1630_insert")
        rows, _ = _execute(conn, sql, path, len(header), by_line=True)
    conn.execute("RELEASE sf1630_insert")
    return rows


def _execute(conn: sqlite3.Connection, sql: str, path: Path, width: int, by_line: bool) -> tuple[int, int]:
    """Run ``sql`` for each row of the file; returns (rows, lines read)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)  # the header, checked by sample_types
        if by_line:
            rows = ((*row, reader.line_num) for row in reader if row)
        else:  # each row then is one line: number them by counting, all in C
            rows = map(operator.add, map(tuple, filter(None, reader)), zip(itertools.count(2)))
        try:
            count = conn.executemany(sql, rows).rowcount
        except sqlite3.ProgrammingError as exc:
            supplied = re.search(r"there are (\d+) supplied", str(exc))
            if supplied is None:
                raise
            raise LoadError(f"{path.name}:{reader.line_num}: {int(supplied[1]) - 1} fields, the header has "
                            f"{width}; nothing was loaded") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LoadError(f"{path.name}:{reader.line_num + 1}: unreadable ({exc}); nothing was loaded") from None
        return count, reader.line_num


SINK = SqliteSink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the sqlite sink."""
    register(SINK)
