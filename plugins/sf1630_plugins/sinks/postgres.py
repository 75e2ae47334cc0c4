"""The ``postgres`` sink: PostgreSQL through psycopg 3, ``COPY`` straight into the typed table.

One transaction per load:

1. take an advisory lock on the target table (loads into one table run one at a time);
2. record the FileTransferUUID in ``<schema>.deliveries`` (``ON CONFLICT DO NOTHING``): if it was
   there, the load is a duplicate and adds nothing;
3. create the target table, or add and widen its columns (issue #14, ``sinks/table.py``), with the
   types the source declares or, for other columns, guessed from the first rows;
4. ``COPY`` the file into the table (``sinks/pgcopy.py``): straight in when it can be, else through
   a staging table whose values are checked and cast;
5. note earlier deliveries of the same authority, source and period, delete their rows with
   ``on_repeat = "replace"``, and (re)create the ``<table>_current`` view (``sinks/current.py``).

Types created: INTEGER as ``bigint``, REAL as ``numeric``, DATE as ``date``, TEXT as ``text``. A
table made by the LIS vendor may use other types (``date``, ``varchar``): values are cast to
whatever the column is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option, redact
from sf1630_plugins.sinks import pgcopy
from sf1630_plugins.sinks.current import RECORD, Keys, Repeat, current_view, find_repeat, keys_of, record
from sf1630_plugins.sinks.table import (
    DATE, INTEGER, KEYS, META, REAL, TEXT, Plan, TableOptions, Types, check_kinds, column_types, plan,
    table_name,
)

TYPES = {INTEGER: "bigint", REAL: "numeric", DATE: "date", TEXT: "text"}
MAX_NAME_BYTES = 63  # PostgreSQL would silently cut longer identifiers
_RECORD_TYPES = {"key": "text PRIMARY KEY", "text": "text", "int": "bigint"}


@dataclass
class Options(TableOptions):
    """``[[receive.sinks]] type = "postgres"`` options."""

    dsn: str = option("", "libpq connection string or URL, e.g. postgresql://lis@db.example/lis "
                          "(this or dsn_env is required)")
    dsn_env: str = option("", "environment variable holding the connection string (keeps passwords out of config); "
                              "unset or empty is an error")
    db_schema: str = option("public", "PostgreSQL schema of the tables and of 'deliveries'; created when missing")

    def unresolved(self) -> list[str]:
        """Why the connection string resolves to nothing here; empty when it does not.

        An empty string would make libpq connect to its default database (often the OS user's, over
        the local socket): rows must never land there unasked.
        """
        if self.dsn:
            return []
        if not self.dsn_env:
            return ["neither dsn nor dsn_env is set; set dsn (e.g. postgresql://lis@db.example/lis) or dsn_env "
                    "(the environment variable holding it)"]
        if not os.environ.get(self.dsn_env):
            return [f"the environment variable {self.dsn_env} named by dsn_env is not set or is empty; set it in "
                    "the agent's environment (e.g. the service's EnvironmentFile)"]
        return []

    def connection(self) -> str:
        """The connection string; LoadError naming the setting when it resolves to nothing."""
        problems = self.unresolved()
        if problems:
            raise LoadError(f"postgres sink: {problems[0]}; nothing was loaded")
        return self.dsn or os.environ[self.dsn_env]


class PostgresSink:
    """Loads deliveries into PostgreSQL."""

    name = "postgres"
    api_version = API_VERSION
    Options: TypeAlias = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Load ``path`` in one transaction; a FileTransferUUID loaded before adds nothing."""
        import psycopg  # only when a PostgreSQL sink is used

        types = column_types(path, delivery.source, options.types)
        header = types.header
        long = [n for n in header if len(n.encode()) > MAX_NAME_BYTES]
        if long:
            raise LoadError(f"{delivery.file_name}:1: column names longer than {MAX_NAME_BYTES} bytes: {long}")
        dsn = options.connection()
        look = pgcopy.Look(path)
        try:
            with psycopg.connect(dsn) as conn, conn.transaction():
                return _load(conn, delivery, path, options, types, look)
        except psycopg.Error as exc:
            text = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                          [*header, options.db_schema, table_name(delivery, options)])
            raise LoadError(f"{delivery.file_name}: PostgreSQL refused the load ({exc.sqlstate or type(exc).__name__}: "
                            f"{text}); nothing was loaded") from None
        finally:
            look.wait()  # no reader of the file outlives the load

    def check(self, options: Options, timeout: float = 10.0) -> str:
        """For ``sf1630 doctor``: connect, create a table and insert a row in ``db_schema``, roll back."""
        import psycopg  # late: psycopg loads only when this sink works
        from psycopg import sql  # late: psycopg loads only when this sink works

        schema = options.db_schema
        try:
            with psycopg.connect(options.connection(), connect_timeout=max(1, int(timeout))) as conn:
                with conn.transaction(force_rollback=True):  # as a load does, then undone
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                    _deliveries_table(conn, schema)
                    conn.execute(sql.SQL("INSERT INTO {} (file_transfer_uuid, file_name, table_name, rows) VALUES "
                                         "('sf1630-doctor', 'probe', 'probe', 0) ON CONFLICT DO NOTHING").format(
                                             sql.Identifier(schema, "deliveries")))
                    probe = sql.Identifier(schema, "sf1630_doctor_probe")
                    conn.execute(sql.SQL("CREATE TABLE {} (x bigint)").format(probe))
                    conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(probe))
                where = f"{conn.info.user}@{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
        except psycopg.Error as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LoadError(f"postgres sink: {text}") from None
        return f"{where}: may create tables and insert in schema {schema!r} (tried, rolled back)"


def _load(conn: Any, delivery: Delivery, path: Path, options: Options, types: Types, look: pgcopy.Look) -> LoadResult:
    from psycopg import sql  # late: psycopg loads only when this sink works

    schema, table, keys = options.db_schema, table_name(delivery, options), keys_of(delivery)
    deliveries = sql.Identifier(schema, "deliveries")
    columns = _setup(conn, schema, table)
    row = record(delivery, keys, table, 0, Repeat())
    claimed = conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING 1").format(
        deliveries, sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(sql.Placeholder() * len(row))),
        tuple(row.values())).fetchone()
    if not claimed:
        done = conn.execute(sql.SQL("SELECT table_name FROM {} WHERE file_transfer_uuid = %s").format(deliveries),
                            (delivery.file_transfer_uuid,)).fetchone()
        return LoadResult(0, done[0], duplicate=True)
    repeat = find_repeat(lambda q, a: conn.execute(q, a).fetchall(), deliveries.as_string(conn), "%s", delivery,
                         keys, options.on_repeat)
    steps, rows, after = _rows(conn, schema, table, columns, path, look, types, options.schema == "strict", keys,
                               delivery)
    for earlier, where in repeat.delete:
        if _columns(conn, schema, where):
            conn.execute(sql.SQL("DELETE FROM {} WHERE _file_transfer_uuid = %s").format(
                sql.Identifier(schema, where)), (earlier,))
        conn.execute(sql.SQL("UPDATE {} SET replaced_by = %s WHERE file_transfer_uuid = %s").format(deliveries),
                     (delivery.file_transfer_uuid, earlier))
    # The last statements in one round trip (values as literals: several statements take no parameters).
    done_sql = sql.SQL("UPDATE {} SET rows = {}, replaces = {} WHERE file_transfer_uuid = {}").format(
        deliveries, rows, repeat.replaces, delivery.file_transfer_uuid)
    conn.execute(sql.SQL("; ").join([*after, done_sql, _view(conn, schema, table)]))
    return LoadResult(rows, table, changes=steps.changes, repeats=repeat.earlier,
                      replaced=tuple(u for u, _ in repeat.delete))


def _deliveries_table(conn: Any, schema: str) -> None:
    """Create ``deliveries``, or add the columns a table made by an older version lacks."""
    _setup(conn, schema, None)


def _setup(conn: Any, schema: str, table: str | None) -> list[tuple[str, str]]:
    """Take the table's load lock, make the schema and ``deliveries`` (or add what an older one lacks);
    the (name, SQL type) of the table's columns. One round trip when nothing is missing."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    target = sql.Identifier(schema, "deliveries")
    index = sql.Identifier(schema, "deliveries_period").as_string(conn)
    first = [sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
             sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, sql.SQL(", ").join(
                 sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(_RECORD_TYPES[k])) for n, k in RECORD)),
             sql.SQL("SELECT to_regclass({}) IS NOT NULL").format(index),
             _columns_query(schema, ["deliveries", table or "deliveries"])]
    if table is not None:  # loads into one table run one at a time
        first.insert(0, sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(f"sf1630:{schema}.{table}"))
    cur, results = conn.execute(sql.SQL("; ").join(first)), []
    while True:
        if cur.description:
            results.append(cur.fetchall())
        if not cur.nextset():
            break
    indexed, found = results[-2][0][0], results[-1]
    have = {name for t, name, _ in found if t == "deliveries"}
    ddl = [sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(target, sql.Identifier(name), sql.SQL(_RECORD_TYPES[kind]))
           for name, kind in RECORD if name not in have]
    if not indexed:
        ddl.append(sql.SQL("CREATE INDEX IF NOT EXISTS deliveries_period ON {} (authority, source, period)").format(
            target))
    if ddl:
        conn.execute(sql.SQL("; ").join(ddl))
    return [(name, kind) for t, name, kind in found if t == table]


def _rows(conn: Any, schema: str, table: str, columns: list[tuple[str, str]], path: Path, look: pgcopy.Look,
          types: Types, strict: bool, keys: Keys, delivery: Delivery) -> tuple[Plan, int, list]:
    """Straight COPY into the table when it can be (a savepoint undoes a failed try), else through staging;
    the plan, the rows, and the statements to run after (dropping the COPY's defaults)."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    target = sql.Identifier(schema, table)
    fixed = pgcopy.constants(keys, delivery.file_transfer_uuid)
    by_lower = {n.lower(): t for n, t in columns}
    existing = {n: type_class(t) for n, t in by_lower.items()}
    try:
        with conn.transaction():  # a savepoint
            if _unchecked(by_lower, types):
                raise pgcopy.Careful("a declared column is text in the table: its values need checking")
            steps = _prepare(conn, schema, table, columns, types.header, types.kinds, strict)
            rows = pgcopy.copy_straight(conn, target, table, path, types, steps.names, fixed, look)
            return steps, rows, [pgcopy.drop_defaults(target, steps.names, fixed)]
    except pgcopy.Careful:
        pass
    pgcopy.stage(conn, path, len(types.header))
    checks = check_kinds(types.kinds, existing, types.header, types.declared)
    kinds = pgcopy.check(conn, path, types, checks)
    steps = _prepare(conn, schema, table, columns, types.header, kinds, strict)
    return steps, pgcopy.insert(conn, target, types.header, steps.names, steps.kinds, fixed), []


def _unchecked(columns: dict[str, str], types: Types) -> bool:
    """Whether a declared number or date column is text in the table (made so by the LIS, or widened)."""
    return any(declared and kind != TEXT and columns.get(name.lower(), "").startswith(("text", "character"))
               for name, kind, declared in zip(types.header, types.kinds, types.declared))


def _view(conn: Any, schema: str, table: str) -> Any:
    """The statement that (re)makes ``<table>_current``."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    def q(name: str) -> str:
        return sql.Identifier(name).as_string(conn)

    view = sql.Identifier(schema, f"{table}_current")
    select = current_view(sql.Identifier(schema, table).as_string(conn),
                          sql.Identifier(schema, "deliveries").as_string(conn), q, table)
    return sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(view, sql.SQL(select))


def _columns(conn: Any, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, SQL type) of each column; empty when there is no such table."""
    return [(n, t) for _, n, t in conn.execute(_columns_query(schema, [table])).fetchall()]


def _columns_query(schema: str, tables: list[str]) -> Any:
    from psycopg import sql  # late: psycopg loads only when this sink works

    return sql.SQL(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = {} AND c.relname IN ({}) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum").format(schema, sql.SQL(", ").join(map(sql.Literal, tables)))


def type_class(sql_type: str) -> str:
    """INTEGER, REAL or TEXT for a PostgreSQL column type (dates and the like count as TEXT)."""
    if sql_type in ("bigint", "integer", "smallint"):
        return INTEGER
    return REAL if sql_type.startswith(("numeric", "double precision", "real")) else TEXT


def _prepare(conn: Any, schema: str, table: str, columns: list[tuple[str, str]], header: list[str], kinds: list,
             strict: bool) -> Plan:
    """Create the table, or add and widen its columns; the plan, each column loaded as its SQL type."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    target = sql.Identifier(schema, table)
    if not columns:
        columns = [(n, TYPES[k or TEXT]) for n, k in [*KEYS, *zip(header, kinds), *META]]
        defs = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns)
        # No index on the FileTransferUUID (issue #19: even a BRIN index cost a sixth of a load):
        # idempotence lives in ``deliveries``, and replacing a month scans the table once.
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, defs))
    steps = plan(table, [(n, type_class(t)) for n, t in columns], header, kinds, strict)
    ddl = [sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(target, sql.Identifier(name), sql.SQL(TYPES[kind]))
           for name, kind in steps.add]
    if steps.widen:  # the view names the columns' types: it is made again after the load
        ddl.append(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(schema, f"{table}_current")))
    ddl += [sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE text USING {}::text").format(
        target, sql.Identifier(name), sql.Identifier(name)) for name in steps.widen]
    if ddl:
        conn.execute(sql.SQL("; ").join(ddl))
        columns = _columns(conn, schema, table)
    # Cast each staged column to the column's own type, whatever the table's owner chose.
    actual = dict(columns)
    steps.kinds = {**steps.kinds, **{header_name: actual[column] for header_name, column in steps.names.items()}}
    return steps


SINK = PostgresSink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the postgres sink."""
    register(SINK)
