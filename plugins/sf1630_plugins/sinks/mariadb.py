"""The ``mariadb`` sink: MariaDB or MySQL through PyMySQL, ``LOAD DATA LOCAL INFILE`` into the typed table.

The same behaviour as the ``postgres`` sink: a table per source typed from the source's declaration
(``sinks/table.py``), the authority, period and source columns, ``deliveries`` and the
``<table>_current`` view (``sinks/current.py``), ``on_repeat``, column changes and ``strict``.

Per load, under a named lock on the table (``GET_LOCK``; loads into one table run one at a time):

1. a FileTransferUUID already in ``deliveries`` is a duplicate and adds nothing;
2. the table is created, or its columns added and widened. MariaDB commits table changes at once
   (its DDL is not transactional): a load that then fails can leave a new empty table or an added
   column behind, never rows;
3. one transaction records the delivery, loads the rows (``sinks/mariadb_rows.py``), deletes the
   rows of the deliveries it replaces (``on_repeat = "replace"``) and commits; a failure or a
   killed agent leaves no rows and no ``deliveries`` row.

Types created: INTEGER as ``BIGINT``, REAL as ``DECIMAL(38,10)``, DATE as ``DATE``, TEXT as
``MEDIUMTEXT`` (the key columns and the FileTransferUUID as ``VARCHAR(255)``, so a LIS can index them).
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option, redact
from sf1630_plugins.sinks import mariadb_rows as rows_
from sf1630_plugins.sinks.current import RECORD, Repeat, current_view, find_repeat, keys_of, record
from sf1630_plugins.sinks.mariadb_feed import Glance, glance
from sf1630_plugins.sinks.mariadb_rows import Careful, Statement, quote
from sf1630_plugins.sinks.table import (
    DATE, INTEGER, KEYS, META, REAL, TEXT, Plan, TableOptions, Types, check_kinds, column_types, plan,
    table_name,
)

TYPES = {INTEGER: "BIGINT", REAL: f"DECIMAL(38,{rows_.DECIMAL_PLACES})", DATE: "DATE", TEXT: "MEDIUMTEXT"}
INDEXED = {name for name, _ in KEYS} | {META[0][0]}  # VARCHAR: MariaDB indexes no whole TEXT
_RECORD_TYPES = {"key": "VARCHAR(255) PRIMARY KEY", "text": "VARCHAR(1024)", "int": "BIGINT"}
MAX_NAME = 64


@dataclass
class Options(TableOptions):
    """``[[receive.sinks]] type = "mariadb"`` options."""

    dsn: str = option("", "mariadb://user:password@host:3306/database (or mysql://...); the database is "
                          "created when missing")
    dsn_env: str = option("", "environment variable holding the dsn (keeps passwords out of config); when named "
                              "and not set, the load fails: it never falls back to dsn")
    lock_timeout: int = option(300, "seconds to wait for another load into the same table before failing")


def connection_settings(options: Options) -> dict[str, Any]:
    """PyMySQL's settings from ``dsn`` or ``dsn_env``; LoadError says what is missing or wrong."""
    if options.dsn_env:
        dsn = os.environ.get(options.dsn_env, "")
        if not dsn:
            raise LoadError(f"mariadb sink: the environment variable {options.dsn_env} (dsn_env) is not set or "
                            "empty; set it to mariadb://user:password@host/database; nothing was loaded")
    else:
        dsn = options.dsn
    url = urlsplit(dsn)
    database = unquote(url.path.lstrip("/"))
    if url.scheme not in ("mariadb", "mysql") or not url.hostname or not database or "/" in database:
        raise LoadError("mariadb sink: dsn must look like mariadb://user:password@host:3306/database "
                        f"(scheme mariadb or mysql, a host and a database), not {_shown(dsn)}; nothing was loaded")
    return {"host": url.hostname, "port": url.port or 3306, "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""), "database": database}


def _shown(dsn: str) -> str:
    url = urlsplit(dsn)
    return repr(dsn.replace(f":{url.password}@", ":***@") if url.password else dsn) if dsn else "an empty one"


class MariadbSink:
    """Loads deliveries into MariaDB or MySQL."""

    name = "mariadb"
    api_version = API_VERSION
    Options: TypeAlias = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Load ``path`` in one transaction; a FileTransferUUID loaded before adds nothing."""
        import pymysql  # only when a MariaDB sink is used

        settings = connection_settings(options)
        types = column_types(path, delivery.source, options.types)
        long = [n for n in types.header if len(n) > MAX_NAME]
        if long:
            raise LoadError(f"{delivery.file_name}:1: column names longer than {MAX_NAME} characters: {long}")
        database, table = settings.pop("database"), table_name(delivery, options)
        with ThreadPoolExecutor(1, thread_name_prefix="sf1630-glance") as pool:
            look = pool.submit(glance, path)  # read while the load connects and prepares the table
            try:
                conn = _connect(settings)
            except pymysql.Error as exc:
                reason = exc.args[-1] if exc.args else exc
                raise LoadError(f"{delivery.file_name}: cannot reach MariaDB at {settings['host']}:{settings['port']} "
                                f"({reason}); nothing was loaded") from None
            try:
                return _locked(conn.cursor(), delivery, path, options, types, database, table, look.result)
            except pymysql.Error as exc:
                code = exc.args[0] if exc.args else type(exc).__name__
                text = redact(str(exc.args[-1] if exc.args else exc), [*types.header, database, table])
                raise LoadError(f"{delivery.file_name}: MariaDB refused the load ({code}: {text}); "
                                "nothing was loaded") from None
            finally:
                conn.close()


_PLAIN: set[tuple[str, int]] = set()  # servers that offered no TLS, as seen by this process


def _connect(settings: dict[str, Any]) -> Any:
    """PyMySQL's own default, TLS when the server offers it and its certificate unchecked, with the
    TLS context made once: PyMySQL makes one per connection, 20 ms of CPU reading the system's CA
    certificates (more than the rest of a small file's load). A server without TLS is then asked
    again without it, and remembered."""
    import pymysql  # only when a MariaDB sink is used

    common = {**settings, "local_infile": True, "autocommit": True, "charset": "utf8mb4", "connect_timeout": 10}
    where = (settings["host"], settings["port"])
    if where not in _PLAIN:
        try:
            return pymysql.connect(**common, ssl=_tls())
        except pymysql.err.OperationalError as exc:
            if not exc.args or exc.args[0] != 2026 or "support" not in str(exc.args[-1]):
                raise
            _PLAIN.add(where)
    return pymysql.connect(**common, ssl_disabled=True)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context of every connection, as PyMySQL's preferred mode makes it: encrypted, not verified."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _locked(cur: Any, delivery: Delivery, path: Path, options: Options, types: Types, database: str,
            table: str, look: Callable[[], Glance]) -> LoadResult:
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote(database)} CHARACTER SET utf8mb4")
    # Notes too: a decimal rounded to the column's places is one (mariadb_rows reads them back).
    cur.execute("SET SESSION sql_notes = 1, lock_wait_timeout = %s", (options.lock_timeout,))
    cur.execute("SELECT GET_LOCK(%s, %s)", (f"sf1630:{database}.{table}", options.lock_timeout))
    if cur.fetchone()[0] != 1:
        raise LoadError(f"{delivery.file_name}: another load into {database}.{table} held its lock for "
                        f"{options.lock_timeout} s (lock_timeout); retried later; nothing was loaded")
    try:
        _deliveries_table(cur, database)
        cur.execute(f"SELECT table_name FROM {quote(database)}.deliveries WHERE file_transfer_uuid = %s",
                    (delivery.file_transfer_uuid,))
        done = cur.fetchone()
        if done:
            return LoadResult(0, done[0], duplicate=True)
        return _load(cur, delivery, path, options, types, database, table, look)
    finally:
        cur.execute("SELECT RELEASE_LOCK(%s)", (f"sf1630:{database}.{table}",))


def _load(cur: Any, delivery: Delivery, path: Path, options: Options, types: Types, database: str,
          table: str, look: Callable[[], Glance]) -> LoadResult:
    keys, strict = keys_of(delivery), options.schema == "strict"
    deliveries = f"{quote(database)}.deliveries"
    repeat = find_repeat(_runner(cur), deliveries, "%s", delivery, keys, options.on_repeat)
    fixed = rows_.constants(keys, delivery.file_transfer_uuid)
    try:
        steps, statement = _statement(cur, database, table, types, types.kinds, strict, fixed)
        with rows_.constants_as_defaults(cur, statement):
            count = _transaction(cur, delivery, keys, repeat, database, table,
                                 lambda: rows_.load_straight(cur, path, statement, types, look()))
    except Careful:
        steps, statement = _statement(cur, database, table, types, rows_.exact_types(path, types), strict, fixed)
        with rows_.constants_as_defaults(cur, statement):
            count = _transaction(cur, delivery, keys, repeat, database, table,
                                 lambda: rows_.load_careful(cur, path, statement, types))
    view = quote(f"{table}_current")
    cur.execute(f"CREATE OR REPLACE VIEW {quote(database)}.{view} AS "
                f"{current_view(f'{quote(database)}.{quote(table)}', deliveries, quote, table)}")
    return LoadResult(count, table, changes=steps.changes, repeats=repeat.earlier,
                      replaced=tuple(u for u, _ in repeat.delete))


def _statement(cur: Any, database: str, table: str, types: Types, kinds: list, strict: bool,
               fixed: dict) -> tuple[Plan, Statement]:
    """Make the table fit the file's types, and the LOAD DATA that checks each value as it loads."""
    existing = {n.lower(): type_class(t) for n, t in _columns(cur, database, table)}
    checks = check_kinds(kinds, existing, types.header, types.declared)
    steps = _prepare(cur, database, table, types.header, kinds, strict)
    columns = [quote(steps.names[n]) for n in types.header]
    return steps, Statement(f"{quote(database)}.{quote(table)}", columns, fixed,
                            rows_.checks_for(checks, types.declared))


def _runner(cur: Any) -> Any:
    def run(query: str, args: tuple) -> list:
        cur.execute(query, args)
        return list(cur.fetchall())
    return run


def _transaction(cur: Any, delivery: Delivery, keys: Any, repeat: Repeat, database: str, table: str,
                 load: Any) -> int:
    """Record the delivery, load its rows and replace earlier ones, all committed together or not at all."""
    deliveries = f"{quote(database)}.deliveries"
    cur.execute("START TRANSACTION")
    try:
        row = record(delivery, keys, table, 0, repeat)
        cur.execute(f"INSERT INTO {deliveries} ({', '.join(map(quote, row))}) VALUES ({', '.join(['%s'] * len(row))})",
                    tuple(row.values()))
        count = load()
        for earlier, where in repeat.delete:
            if _columns(cur, database, where):
                cur.execute(f"DELETE FROM {quote(database)}.{quote(where)} WHERE _file_transfer_uuid = %s", (earlier,))
            cur.execute(f"UPDATE {deliveries} SET replaced_by = %s WHERE file_transfer_uuid = %s",
                        (delivery.file_transfer_uuid, earlier))
        cur.execute(f"UPDATE {deliveries} SET {quote('rows')} = %s WHERE file_transfer_uuid = %s",
                    (count, delivery.file_transfer_uuid))
        cur.execute("COMMIT")
        return count
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def _deliveries_table(cur: Any, database: str) -> None:
    """Create ``deliveries``, or add the columns a table made by an older version lacks."""
    target = f"{quote(database)}.deliveries"
    cur.execute(f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(f'{quote(n)} {_RECORD_TYPES[k]}' for n, k in RECORD)}, "
                "INDEX deliveries_period (authority(64), source(64), period(64))) DEFAULT CHARSET = utf8mb4")
    have = {name for name, _ in _columns(cur, database, "deliveries")}
    for name, kind in RECORD:
        if name not in have:
            cur.execute(f"ALTER TABLE {target} ADD COLUMN {quote(name)} {_RECORD_TYPES[kind]}")


def _columns(cur: Any, database: str, table: str) -> list[tuple[str, str]]:
    """(name, data type) of each column; empty when there is no such table."""
    cur.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (database, table))
    return [(str(n), str(t)) for n, t in cur.fetchall()]


def type_class(data_type: str) -> str:
    """INTEGER, REAL or TEXT for a MariaDB column type (dates and the like count as TEXT)."""
    data_type = data_type.lower()
    if data_type.endswith("int"):
        return INTEGER
    return REAL if data_type in ("decimal", "double", "float") else TEXT


def _sql_type(name: str, kind: str | None) -> str:
    return "VARCHAR(255)" if name in INDEXED else TYPES[kind or TEXT]


def _prepare(cur: Any, database: str, table: str, header: list[str], kinds: list, strict: bool) -> Plan:
    """Create the table if missing, else add and widen columns as the file needs (issue #14)."""
    target = f"{quote(database)}.{quote(table)}"
    if not _columns(cur, database, table):
        defs = [f"{quote(n)} {_sql_type(n, k)}" for n, k in [*KEYS, *zip(header, kinds), *META]]
        # No index on the FileTransferUUID: InnoDB would pay for it on every row (it halved the load's
        # speed); idempotence lives in ``deliveries``, and replacing a month scans the table once.
        cur.execute(f"CREATE TABLE {target} ({', '.join(defs)}) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4")
    steps = plan(table, [(n, type_class(t)) for n, t in _columns(cur, database, table)], header, kinds, strict)
    changes = [f"ADD COLUMN {quote(n)} {_sql_type(n, k)}" for n, k in steps.add]
    changes += [f"MODIFY COLUMN {quote(n)} {TYPES[TEXT]}" for n in steps.widen]
    if changes:
        cur.execute(f"ALTER TABLE {target} {', '.join(changes)}")
    return steps


SINK = MariadbSink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the mariadb sink."""
    register(SINK)
