"""The ``sqlite`` sink, the embedded default: a table per source and a ``deliveries`` table.

Each delivered file goes into the table named after its source code (``ky``, ``dubu``, ...; see
``sinks/table.py`` for how columns are typed and how a changed header is handled, and
``sinks/current.py`` for the authority, period and source columns, the ``deliveries`` table and
the ``<table>_current`` view). Loading the same FileTransferUUID again adds nothing and returns
``duplicate=True``. The whole load is one transaction: a failure leaves neither rows nor a
``deliveries`` row. The database file is created owner-only (0600).

A process keeps its connection to the database between loads (``KeptConnections``), with what it
read of the schema; any change of the schema, by any writer, makes it read the schema again.
"""

from __future__ import annotations

import atexit
import csv
import functools
import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeAlias, cast
from pathlib import Path

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option, redact
from sf1630.transport.privacy import create_private
from sf1630_plugins.sinks.current import RECORD, Keys, Repeat, current_view, find_repeat, keys_of, record
from sf1630_plugins.sinks.table import (
    DATE, INTEGER, KEYS, META, REAL, TEXT, Plan, TableOptions, Types, check_kinds, classify, column_types, merge,
    misfit, plan, table_name,
)

_SQL_TYPES = {"key": "TEXT PRIMARY KEY", "text": "TEXT", "int": "INTEGER"}
CHECK_ROWS = 100_000  # rows inserted between checks of their stored types (a 64 MiB cache holds them)
ROWS_PER_INSERT = 100  # rows one INSERT takes in the quick path (fewer when the row is very wide)
# Compiling an INSERT of 100 rows costs ~10 ms (it grows with the square of the rows), more than it
# saves on a small file; one of 16 rows costs ~0.5 ms, once per table and connection (the statement's
# text stays the same from load to load: the delivery's constants are parameters), and inserts as fast.
BLOCKS_FROM = 1 << 20
SMALL_ROWS_PER_INSERT = 16  # below BLOCKS_FROM bytes


@dataclass
class Options(TableOptions):
    """``[[receive.sinks]] type = "sqlite"`` options."""

    path: Path = option(Path("sf1630-lis.sqlite3"), "the SQLite database file; created (0600) when missing")
    timeout: float = option(30.0, "seconds to wait for another writer's lock before failing the load")


class SqliteSink:
    """Loads deliveries into a SQLite database."""

    name = "sqlite"
    api_version = API_VERSION
    Options: TypeAlias = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Load ``path`` in one transaction; a FileTransferUUID loaded before adds nothing."""
        types = column_types(path, delivery.source, options.types)
        table, keys = table_name(delivery, options), keys_of(delivery)
        try:
            kept = _KEPT.take(options.path, options.timeout)
            conn = kept.conn if kept is not None else connect(options.path, options.timeout)
        except sqlite3.Error as exc:
            raise LoadError(f"{delivery.file_name}: the SQLite database {options.path} could not be opened "
                            f"({exc}); nothing was loaded") from None
        done_ok = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            deliveries_table(conn)
            done = conn.execute("SELECT table_name FROM deliveries WHERE file_transfer_uuid = ?",
                                (delivery.file_transfer_uuid,)).fetchone()
            if done:
                conn.execute("ROLLBACK")
                _forget(conn)  # the rollback may have undone a column added above, at a version noted
                done_ok = True
                return LoadResult(0, done[0], duplicate=True)
            steps, rows = load_rows(conn, table, path, types, options.schema == "strict",
                                    delivery.file_transfer_uuid, keys)
            repeat = find_repeat(lambda q, a: conn.execute(q, a).fetchall(), "deliveries", "?", delivery, keys,
                                 options.on_repeat)
            replace(conn, repeat, delivery.file_transfer_uuid)
            row = record(delivery, keys, table, rows, repeat)
            conn.execute(f"INSERT INTO deliveries ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         tuple(row.values()))
            if not _known(conn, ("view", table)):
                conn.execute(f"CREATE VIEW IF NOT EXISTS {quote(table + '_current')} AS "
                             f"{current_view(quote(table), 'deliveries', quote, table)}")
            conn.execute("COMMIT")
            done_ok = True
        except sqlite3.Error as exc:
            conn.rollback()
            text = redact(str(exc), [*types.header, table])
            raise LoadError(f"{delivery.file_name}: SQLite refused the load ({text}); nothing was loaded") from None
        except BaseException:
            conn.rollback()
            raise
        finally:
            if kept is None:
                conn.close()
            else:
                _KEPT.give_back(kept, keep=done_ok and _empty_wal(conn, options.timeout))
        return LoadResult(rows, table, changes=steps.changes, repeats=repeat.earlier,
                          replaced=tuple(u for u, _ in repeat.delete))

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


def deliveries_table(conn: sqlite3.Connection) -> None:
    """Create ``deliveries``, or add the columns a table made by an older version lacks."""
    if _known(conn, ("deliveries",)):
        return
    conn.execute(f"CREATE TABLE IF NOT EXISTS deliveries ({', '.join(f'{n} {_SQL_TYPES[k]}' for n, k in RECORD)})")
    have = {name for name, _ in columns(conn, "deliveries")}
    for name, kind in RECORD:
        if name not in have:
            conn.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {_SQL_TYPES[kind]}")
    conn.execute("CREATE INDEX IF NOT EXISTS deliveries_period ON deliveries (authority, source, period)")


def replace(conn: sqlite3.Connection, repeat: Repeat, uuid: str) -> None:
    """``on_repeat = "replace"``: delete the earlier deliveries' rows and say what replaced them."""
    for earlier, table in repeat.delete:
        if columns(conn, table):
            conn.execute(f"DELETE FROM {quote(table)} WHERE _file_transfer_uuid = ?", (earlier,))
        conn.execute("UPDATE deliveries SET replaced_by = ? WHERE file_transfer_uuid = ?", (uuid, earlier))


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
    # Any thread may use it: a kept connection serves the loads of worker threads, one at a time.
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False, factory=Remembering)
    try:
        # Registered once: registering a function again expires every compiled statement of the connection.
        conn.create_function("sf1630_unexpected", 2, conn.checks.unexpected)
        conn.create_function("sf1630_misfit", 2, conn.checks.misfit)
        _wal(conn, timeout)
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: a big load keeps its table and index pages in memory
    except BaseException:
        conn.close()
        raise
    return conn


def _wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch a new database to WAL. Two connections switching a new file at once may find each
    other's lock: SQLite answers one of them "locked" at once instead of waiting (each holds the
    lock the other needs), so that one tries again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _empty_wal(conn: sqlite3.Connection, timeout: float) -> bool:
    """Copy the WAL into the database and empty it, if no reader is in the way (it is not waited for):
    between loads the database file alone holds the data, as it did when each load closed its
    connection, so a file replaced or restored meanwhile never meets this load's WAL. False: the
    connection is to be closed."""
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        # A reader in the way is not an error: the first column says 1 and the WAL stays.
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        conn.execute("PRAGMA shrink_memory")  # the 64 MiB cache is for one big load, not kept between loads
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    except sqlite3.Error:
        return False
    return not busy


class Checks:
    """What the SQL functions of a value check report to the load running on the connection."""

    def __init__(self) -> None:
        self.found: list[str | None] = []  # per column: the type its values need (see ``insert``)
        self.bad: list[tuple[int, int]] = []  # (column index, line) of values that misfit a declared type

    def unexpected(self, index: int, value: str) -> str:
        self.found[index] = merge(self.found[index], classify(value))
        return value

    def misfit(self, index: int, at: int) -> None:
        self.bad.append((index, at))
        raise ValueError("a value does not fit its declared type")


class Remembering(sqlite3.Connection):
    """A connection that remembers table layouts and finished set-up steps for one schema version."""

    version: int | None = None
    notes: dict[tuple[str, ...] | str, object]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checks = Checks()


def _seen(conn: sqlite3.Connection) -> dict | None:
    """What ``conn`` learnt of the schema, valid while the schema version stays (any writer's change,
    a rollback included, moves it); None for a connection that does not remember."""
    if not isinstance(conn, Remembering):
        return None
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    if conn.version != version:
        conn.version, conn.notes = version, {}
    return conn.notes


def _forget(conn: sqlite3.Connection) -> None:
    """Drop what ``conn`` remembers: after a rollback, the schema version it noted may come again
    with another layout."""
    if isinstance(conn, Remembering):
        conn.version = None


def _known(conn: sqlite3.Connection, step: tuple[str, ...]) -> bool:
    """Whether ``step`` was done at this schema version; notes it as done (the caller does it now)."""
    seen = _seen(conn)
    if seen is None:
        return False
    if step in seen:
        return True
    seen[step] = True
    return False


@dataclass
class Kept:
    """An open connection to one database, used by one load at a time."""

    conn: Remembering
    pid: int
    inode: tuple[int, int]
    busy: threading.Lock


class KeptConnections:
    """The sink's connections, kept open between loads of one process: opening one, reading its
    schema and closing it (a checkpoint) cost more than a small load. A database file removed or
    replaced is opened again; a connection is closed after a failed load, left alone in a forked
    child and closed when the process ends."""

    LIMIT = 8  # databases kept open at once (file descriptors); the least recently used is closed

    def __init__(self) -> None:
        self._open: dict[tuple[str, float], Kept] = {}
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def take(self, path: Path, timeout: float) -> Kept | None:
        """The database's kept connection, opened if needed; None when another load is using it."""
        key = (os.path.abspath(path), timeout)
        with self._lock:
            kept = self._open.pop(key, None)
            if kept is not None and kept.pid != os.getpid():
                _FORKED.append(kept)  # the parent's: closing it here could disturb the parent's locks
                kept = None
            if kept is not None and not kept.busy.acquire(blocking=False):
                self._open[key] = kept
                return None  # another thread loads into it; this load opens a connection of its own
            if kept is not None and _inode(key[0]) == kept.inode:
                self._open[key] = kept  # last: the most recently used
                return kept
        if kept is not None:  # the file was removed or replaced since
            kept.conn.close()
        conn = connect(Path(path), timeout)
        kept = Kept(cast(Remembering, conn), os.getpid(), _inode(key[0]), threading.Lock())
        kept.busy.acquire()
        with self._lock:
            evicted = [k for k in [self._open.pop(key, None)] if k is not None]
            self._open[key] = kept
            while len(self._open) > self.LIMIT:
                evicted.append(self._open.pop(next(iter(self._open))))
        for k in evicted:
            self._close(k)
        return kept

    def give_back(self, kept: Kept, keep: bool) -> None:
        """The load is over; after a failed one the connection is closed (the next load opens another)."""
        with self._lock:
            listed = [key for key, value in self._open.items() if value is kept]
            if not keep:
                for key in listed:
                    del self._open[key]
        if not keep or not listed:  # failed, or no longer listed (evicted while in use)
            kept.conn.close()
        kept.busy.release()

    def close_all(self) -> None:
        """Close every kept connection of this process (at exit: the last close checkpoints the WAL)."""
        with self._lock:
            kept, self._open = list(self._open.values()), {}
        for k in kept:
            self._close(k)

    @staticmethod
    def _close(kept: Kept) -> None:
        if kept.pid != os.getpid():
            _FORKED.append(kept)
        elif kept.busy.acquire(blocking=False):  # one in use is closed by its load's give_back
            kept.conn.close()
            kept.busy.release()


_FORKED: list[Kept] = []  # connections inherited from a parent process: kept referenced, never used
_KEPT = KeptConnections()


def _inode(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """The table's columns with their type class; empty when there is no such table."""
    seen = _seen(conn)
    if seen is not None and table in seen:
        return list(seen[table])
    found = [(row[1], affinity(row[2])) for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
    if seen is not None:
        seen[table] = tuple(found)
    return found


def affinity(declared: str) -> str:
    """The type class of a declared column type, by SQLite's affinity rules (DATE: as declared)."""
    declared = declared.upper()
    if "INT" in declared:
        return INTEGER
    if declared == DATE:
        return DATE
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")) or not declared:
        return TEXT
    return REAL if any(word in declared for word in ("REAL", "FLOA", "DOUB", "NUM", "DEC")) else TEXT


def prepare(conn: sqlite3.Connection, table: str, header: list[str], kinds: list, strict: bool) -> Plan:
    """Create the table if missing, else add and widen columns as the file needs (issue #14)."""
    if not columns(conn, table):
        defs = [f"{quote(n)} {k or TEXT}" for n, k in [*KEYS, *zip(header, kinds), *META]]
        conn.execute(f"CREATE TABLE {quote(table)} ({', '.join(defs)})")
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


# No index on the FileTransferUUID (issue #19): it cost a tenth of a load, idempotence lives in
# ``deliveries``, the ``_current`` view reads most of the table anyway, and replacing a month scans
# the table once. Tables made by earlier versions keep theirs.
def load_rows(conn: sqlite3.Connection, table: str, path: Path, types: Types, strict: bool, uuid: str,
              keys: Keys) -> tuple[Plan, int]:
    """Prepare the table from the file's types and insert every row; if a later value does not fit a
    guessed type, undo and do it again with the types of the whole file (found while inserting)."""
    found = list(types.kinds)
    conn.execute("SAVEPOINT sf1630_rows")
    steps, rows = _attempt(conn, table, path, types, strict, (uuid, keys), found)
    if found != types.kinds:
        conn.execute("ROLLBACK TO sf1630_rows")
        retyped = Types(types.header, found, types.declared)
        steps, rows = _attempt(conn, table, path, retyped, strict, (uuid, keys), list(found))
    conn.execute("RELEASE sf1630_rows")
    return steps, rows


def _attempt(conn: sqlite3.Connection, table: str, path: Path, types: Types, strict: bool,
             delivery: tuple[str, Keys], found: list) -> tuple[Plan, int]:
    existing = {name.lower(): kind for name, kind in columns(conn, table)}
    checks = check_kinds(types.kinds, existing, types.header, types.declared)
    steps = prepare(conn, table, types.header, types.kinds, strict)
    return steps, insert(conn, table, path, types, steps, checks, delivery, found)


# Every value is checked by SQLite itself against the type it must have; a check may only pass
# values that table.classify accepts. A guessed type that fails calls back into Python, which notes
# the value's exact type (so a rare false alarm, like "-0", costs a call and changes nothing); a
# declared type that fails calls back to stop the load, naming the line and column.
_INTEGER_OK = "(CAST(CAST({p} AS INTEGER) AS TEXT) = {p} AND length({p}) <= 18)"
_REAL_OK = ("(({p} GLOB '[0-9]*' OR {p} GLOB '-[0-9]*') AND NOT ({p} GLOB '0[0-9]*' OR {p} GLOB '-0[0-9]*')"
            " AND substr({p}, 2) NOT GLOB '*[^0-9.]*' AND {p} NOT GLOB '*.*.*' AND {p} NOT GLOB '*.')")
_DECLARED_OK: dict[str | None, str] = {  # a declared integer may have leading zeros: it is a number by declaration
    INTEGER: "(length({p}) <= 18 AND ({p} NOT GLOB '*[^0-9]*' OR ({p} GLOB '-[0-9]*' "
             "AND substr({p}, 2) NOT GLOB '*[^0-9]*')))",  # digits alone first: the common case costs one GLOB
    REAL: _REAL_OK,
    DATE: "({p} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date({p}) = {p})",
}
# A declared column whose table column has the declared type is checked once, after the insert
# (issue #19: a third of the load's time went to the checks above): the column's affinity has
# made numbers of what reads as one, so a value of another storage class there is a misfit. The
# tests are arithmetic rather than typeof() (a function call): 0.7x its cost (INTEGER), 0.3x (REAL);
# and hold for exactly those values: a number never equals a text or blob; a REAL in an INTEGER
# column has a fraction or does not fit 64 bits, so its CAST differs, but for -2**63 itself.
_STORED_MISFIT = {
    INTEGER: "(CAST({c} AS INTEGER) IS NOT {c} OR {c} = -9223372036854775808 AND typeof({c}) = 'real')",
    REAL: "{c} + 0 IS NOT {c}",  # + 0 keeps an integer exact in a NUMERIC column (a CAST to REAL would not)
    DATE: "({c} IS NOT NULL AND (typeof({c}) <> 'text' OR date({c}) IS NOT {c}))",
}


def _value(number: int, column: int, check: str | None, declared: bool, line: str, plain: bool) -> str:
    """The SQL for one field, parameter ``number`` of the statement and ``column`` of its row (from 0):
    NULL when empty, else the text (the column's affinity makes numbers). ``plain``: for a statement
    only given blocks without an empty field; ``line``: the row's line number."""
    p = f"?{number}"
    if check == TEXT or check is None and declared:
        return p if plain else f"CASE {p} WHEN '' THEN NULL ELSE {p} END"  # cheaper than NULLIF: no function call
    if declared:
        return (f"CASE WHEN {p} = '' THEN NULL WHEN {_DECLARED_OK[check].format(p=p)} THEN {p} "
                f"ELSE sf1630_misfit({column}, {line}) END")
    ok = {INTEGER: _INTEGER_OK, REAL: _REAL_OK}.get(check or TEXT, "0").format(p=p)
    return f"CASE WHEN {p} = '' THEN NULL WHEN {ok} THEN {p} ELSE sf1630_unexpected({column}, {p}) END"


def stored_checks(conn: sqlite3.Connection, table: str, types: Types, steps: Plan, checks: list) -> dict[int, str]:
    """The declared columns checked after the insert (index -> check); the others are checked per value."""
    try:
        conn.execute(f"SELECT rowid FROM {quote(table)} LIMIT 0")
    except sqlite3.OperationalError:  # a table WITHOUT ROWID, made by the LIS: every value is checked as it goes
        return {}
    return {i: k for i, (name, k, d) in enumerate(zip(types.header, checks, types.declared))
            if d and k in _STORED_MISFIT and steps.kinds[name] == k}


@functools.lru_cache(maxsize=64)
def _insert_sql(into: str, fields: tuple[tuple[str | None, bool], ...], rows: int, plain: bool) -> str:
    """``rows`` rows' fields as parameters ?1..?rows*width, then the first row's line number, then the
    delivery's constants. The text is the same for every load of the table: sqlite3 keeps it compiled,
    and it is made once (making the text of 16 rows cost a fifth of a small load)."""
    width = len(fields)
    line = rows * width + 1
    first = f"?{line + 1}, ?{line + 2}, ?{line + 3}"
    return into + ", ".join(
        f"({first}, "
        + ", ".join(_value(row * width + i, i - 1, k, d, f"(?{line} + {row})", plain)
                    for i, (k, d) in enumerate(fields, 1))
        + f", ?{line + 4}, ?{line} + {row})" for row in range(rows))


def insert(conn: sqlite3.Connection, table: str, path: Path, types: Types, steps: Plan, checks: list,
           delivery: tuple[str, Keys], found: list) -> int:
    """Insert every row; returns how many. ``found`` gets the type of each value that fails its check."""
    header, (uuid, keys) = types.header, delivery
    width = len(header)
    after = stored_checks(conn, table, types, steps, checks)
    targets = [steps.names[n] for n, _ in KEYS] + [steps.names[n] for n in header] + [steps.names[n] for n, _ in META]
    constants = (keys.authority, keys.period, keys.source, uuid)  # the same in every row of the load
    into = f"INSERT INTO {quote(table)} ({', '.join(quote(t) for t in targets)}) VALUES "
    fields = tuple((None if i in after else k, d) for i, (k, d) in enumerate(zip(checks, types.declared)))

    def statement(rows: int, plain: bool) -> str:
        return _insert_sql(into, fields, rows, plain)

    bad: list[tuple[int, int]] = []
    report = cast(Remembering, conn).checks
    report.found, report.bad = found, bad
    last = f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}"
    before = conn.execute(last).fetchone()[0] if after else 0
    since = [before]

    def stored() -> bool:  # checks the rows inserted since the last call
        bad.extend(_stored_misfit(conn, table, steps, header, after, since[0]))
        since[0] = conn.execute(last).fetchone()[0]
        return bool(bad)

    conn.execute("SAVEPOINT sf1630_insert")
    small = path.stat().st_size < BLOCKS_FROM
    rows, lines = _blocks(conn, statement, path, width, constants, bad, stored if after else None,
                          _per_statement(conn, width, SMALL_ROWS_PER_INSERT if small else ROWS_PER_INSERT), small)
    if bad or lines != rows + 1:  # a misfit, a blank line, a field over several lines or a ragged row
        conn.execute("ROLLBACK TO sf1630_insert")
        bad.clear()
        since[0] = before  # the rolled back rows are gone
        rows, _ = _execute(conn, statement(1, False), path, width, constants, bad, stored if after else None)
    if bad:
        index, at = bad[0]
        raise misfit(path, at, header[index], checks[index])
    conn.execute("RELEASE sf1630_insert")
    return rows


def _stored_misfit(conn: sqlite3.Connection, table: str, steps: Plan, header: list[str], after: dict[int, str],
                   last: int) -> list[tuple[int, int]]:
    """The first (column index, line) whose stored value is not of its declared type, if any."""
    tests = [_STORED_MISFIT[k].format(c=quote(steps.names[header[i]])) for i, k in after.items()]
    found = conn.execute(f"SELECT {quote(steps.names[META[1][0]])}, {', '.join(tests)} FROM {quote(table)} "
                         f"WHERE rowid > ? AND ({' OR '.join(tests)}) ORDER BY rowid LIMIT 1", (last,)).fetchone()
    if found is None:
        return []
    return [(next(i for i, failed in zip(after, found[1:]) if failed), found[0])]


def _per_statement(conn: sqlite3.Connection, width: int, most: int) -> int:
    """Rows per INSERT in the quick path: SQLite runs one statement of many rows faster than many of one."""
    return max(1, min(most, (conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 5) // width))


def _blocks(conn: sqlite3.Connection, statement: Callable[[int, bool], str], path: Path, width: int,
            constants: tuple, bad: list, check: Callable[[], bool] | None, per: int, small: bool) -> tuple[int, int]:
    """The quick path: ``per`` rows to an INSERT, each row numbered as if it were one line; a last
    shorter block row by row (an INSERT of its size would be compiled for this file alone). Returns
    (rows, lines read); lines is -1 when a line is blank or has another number of fields than the
    header (the careful path then names it). Stops at a misfit noted in ``bad`` or found by ``check``.
    ``small``: the file is read at once."""
    cursor, count, checked = conn.cursor(), 0, 0
    with open(path, encoding="utf-8", newline="") as f:  # plain UTF-8: see _execute
        reader = csv.reader(f, delimiter=";")
        blocks = _whole(f, width, per) if small else None
        if blocks is None:
            blocks = _split(f, width, per) if width > 1 and _unquoted(path) else _parsed(reader, width, per)
        try:
            for values in blocks:
                if values is None:
                    return count, -1
                values[-1] = count + 2  # the block's first line
                rows = (len(values) - 1) // width
                if rows == per:
                    plain = "" not in values  # no empty field: no test for one
                    values += constants
                    cursor.execute(statement(rows, plain), values)
                else:
                    cursor.executemany(statement(1, False), [(*values[i * width:(i + 1) * width], count + 2 + i,
                                                              *constants) for i in range(rows)])
                count += rows
                if check is not None and (count - checked >= CHECK_ROWS or rows < per):
                    checked = count
                    if check():
                        break
        except sqlite3.OperationalError:
            if not bad:
                raise
            return 0, 0
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LoadError(f"{path.name}:{max(reader.line_num, count + 1) + 1}: unreadable ({exc}); "
                            "nothing was loaded") from None
        if check is not None and checked < count:
            check()
        return count, reader.line_num or count + 1  # split: each row is one line


def _unquoted(path: Path) -> bool:
    """Whether the file has neither '"' nor a carriage return: then each line is a row, split at ';'."""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            if b'"' in chunk or b"\r" in chunk:
                return False
    return True


def _whole(f: TextIO, width: int, per: int) -> Iterator[list[Any] | None] | None:
    """``_split`` for a file under BLOCKS_FROM, read at once and split in one go (its lines and fields
    are not gathered line by line); None when it needs csv.reader (a '"' or a carriage return) or
    does not decode (the reader then names the line)."""
    try:
        text = f.read()
    except UnicodeDecodeError:
        text = '"'
    if width < 2 or '"' in text or "\r" in text:
        f.seek(0)
        return None
    lines = text.partition("\n")[2].split("\n")  # after the header, checked by column_types
    if lines[-1] == "":
        lines.pop()  # the last line's newline
    if any(map((width - 1).__ne__, map(str.count, lines, itertools.repeat(";")))):
        return iter([None])
    fields, step = ";".join(lines).split(";"), per * width
    return (fields[start:start + step] + [None] for start in range(0, len(lines) * width, step))  # last: the slot


def _split(f: TextIO, width: int, per: int) -> Iterator[list[Any] | None]:
    """Blocks of ``per`` lines as one list of their fields and a slot for the first line's number;
    None for a block with a line of another width (a blank one too: ``width`` is 2 or more).
    A third cheaper than csv.reader (a row is not a list of its own)."""
    next(f)  # the header, checked by column_types
    semicolons = itertools.repeat(";")
    while lines := list(itertools.islice(f, per)):
        if any(map((width - 1).__ne__, map(str.count, lines, semicolons))):
            yield None
            return
        text = "".join(lines)
        yield (text if text.endswith("\n") else text + "\n").replace("\n", ";").split(";")  # last: the slot


def _parsed(reader: Any, width: int, per: int) -> Iterator[list[Any] | None]:
    """As ``_split``, read by csv.reader: quoted fields, lines ended by CR LF; blank lines skipped."""
    next(reader)  # the header, checked by column_types
    rows = filter(None, reader)
    while chunk := list(itertools.islice(rows, per)):
        if any(map(width.__ne__, map(len, chunk))):
            yield None
            return
        yield [*itertools.chain.from_iterable(chunk), 0]


def _execute(conn: sqlite3.Connection, sql: str, path: Path, width: int, constants: tuple, bad: list,
             check: Callable[[], bool] | None) -> tuple[int, int]:
    """The careful path: run ``sql`` for each row of the file, numbered by its line; returns (rows,
    lines read). Stops at a misfit noted in ``bad``, or found by ``check`` (run after each
    ``CHECK_ROWS`` rows, while their pages are cached)."""
    # Plain UTF-8: the byte order mark can only be in the header, which is skipped, and the
    # "utf-8-sig" decoder is Python code (a tenth of the load's time).
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)  # the header, checked by column_types
        rows = ((*row, reader.line_num, *constants) for row in reader if row)
        try:
            count = 0
            while True:
                done = conn.executemany(sql, itertools.islice(rows, CHECK_ROWS)).rowcount
                count += done
                if check is not None and check() or done < CHECK_ROWS:
                    break
        except sqlite3.OperationalError:
            if not bad:
                raise
            return 0, 0
        except sqlite3.ProgrammingError as exc:
            supplied = re.search(r"there are (\d+) supplied", str(exc))
            if supplied is None:
                raise
            raise LoadError(f"{path.name}:{reader.line_num}: {int(supplied[1]) - 5} fields, the header has "
                            f"{width}; nothing was loaded") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LoadError(f"{path.name}:{reader.line_num + 1}: unreadable ({exc}); nothing was loaded") from None
        return count, reader.line_num


SINK = SqliteSink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the sqlite sink."""
    register(SINK)
