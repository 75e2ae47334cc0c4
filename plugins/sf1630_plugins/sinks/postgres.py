"""The ``postgres`` sink: PostgreSQL through psycopg 3, ``COPY`` into a staging table, then into place.

One transaction per load:

1. take an advisory lock on the target table (loads into one table run one at a time);
2. record the FileTransferUUID in ``<schema>.deliveries`` (``ON CONFLICT DO NOTHING``): if it was
   there, the load is a duplicate and adds nothing;
3. ``COPY`` the file's bytes as they are into a temporary staging table of text columns (dropped
   at commit); PostgreSQL parses the CSV, and names the line of a ragged or non-UTF-8 row;
4. type the columns: a sample of the first rows is read in Python, and one query checks every
   staged value against the sampled types (only a column that fails is typed again, in SQL);
5. create the target table, or add and widen its columns (issue #14, ``sinks/table.py``);
6. ``INSERT INTO <table> SELECT`` from the staging table, casting each column to its type.

Types created: INTEGER as ``bigint``, REAL as ``numeric``, TEXT as ``text``. A table made by the
LIS vendor may use other types (``date``, ``varchar``): values are cast to whatever the column is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option, redact
from sf1630_plugins.sinks.table import (
    INTEGER, META, REAL, TEXT, Plan, TableOptions, check_kinds, plan, read_csv, sample_types, table_name,
)

TYPES = {INTEGER: "bigint", REAL: "numeric", TEXT: "text"}
MAX_NAME_BYTES = 63  # PostgreSQL would silently cut longer identifiers
PATTERNS = {INTEGER: r"^-?(0|[1-9][0-9]{0,17})$", REAL: r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"}  # as table.classify
# A cheaper first check of INTEGER columns (no regex); it may only pass values PATTERNS[INTEGER]
# passes, a false alarm (e.g. "-0") just types the column again with the regexes.
QUICK_INTEGER = ("(translate({c}, '-0123456789', '') = '' AND length({c}) <= 18 AND {c} NOT LIKE '0_%' "
                 "AND {c} NOT LIKE '-0%' AND {c} NOT LIKE '_%-%' AND {c} <> '-')")
CHUNK = 1 << 20


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
    Options = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Load ``path`` in one transaction; a FileTransferUUID loaded before adds nothing."""
        import psycopg  # only when a PostgreSQL sink is used

        header, kinds = sample_types(path, options.types)
        long = [n for n in header if len(n.encode()) > MAX_NAME_BYTES]
        if long:
            raise LoadError(f"{delivery.file_name}:1: column names longer than {MAX_NAME_BYTES} bytes: {long}")
        dsn = options.connection()
        try:
            with psycopg.connect(dsn) as conn, conn.transaction():
                return _load(conn, delivery, path, options, header, kinds)
        except psycopg.Error as exc:
            text = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                          [*header, options.db_schema, table_name(delivery, options)])
            raise LoadError(f"{delivery.file_name}: PostgreSQL refused the load ({exc.sqlstate or type(exc).__name__}: "
                            f"{text}); nothing was loaded") from None

    def check(self, options: Options, timeout: float = 10.0) -> str:
        """For ``sf1630 doctor``: connect, create a table and insert a row in ``db_schema``, roll back."""
        import psycopg
        from psycopg import sql

        schema = options.db_schema
        try:
            with psycopg.connect(options.connection(), connect_timeout=max(1, int(timeout))) as conn:
                with conn.transaction(force_rollback=True):  # as a load does, then undone
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


def _load(conn: Any, delivery: Delivery, path: Path, options: Options, header: list[str], kinds: list) -> LoadResult:
    from psycopg import sql

    schema, table = options.db_schema, table_name(delivery, options)
    target = sql.Identifier(schema, table)
    conn.execute(sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(f"sf1630:{schema}.{table}"))
    _deliveries_table(conn, schema)
    claimed = conn.execute(sql.SQL(
        "INSERT INTO {} (file_transfer_uuid, file_name, sender, recipient, source, table_name, rows, size) "
        "VALUES (%s, %s, %s, %s, %s, %s, 0, %s) ON CONFLICT DO NOTHING RETURNING 1").format(
            sql.Identifier(schema, "deliveries")),
        (delivery.file_transfer_uuid, delivery.file_name, delivery.sender, delivery.recipient,
         delivery.source, table, delivery.size)).fetchone()
    if not claimed:
        row = conn.execute(sql.SQL("SELECT table_name FROM {} WHERE file_transfer_uuid = %s").format(
            sql.Identifier(schema, "deliveries")), (delivery.file_transfer_uuid,)).fetchone()
        return LoadResult(0, row[0], duplicate=True)
    _stage(conn, path, len(header))
    existing = {n.lower(): type_class(t) for n, t in _columns(conn, schema, table)}
    kinds = _check(conn, kinds, check_kinds(kinds, existing, header))
    steps = _prepare(conn, schema, table, header, kinds, options.schema == "strict")
    rows = _insert(conn, target, header, steps, delivery.file_transfer_uuid)
    conn.execute(sql.SQL("UPDATE {} SET rows = %s WHERE file_transfer_uuid = %s").format(
        sql.Identifier(schema, "deliveries")), (rows, delivery.file_transfer_uuid))
    return LoadResult(rows, table, changes=steps.changes)


def _deliveries_table(conn: Any, schema: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (file_transfer_uuid text PRIMARY KEY, file_name text NOT NULL, "
        "sender text, recipient text, source text, table_name text NOT NULL, rows bigint NOT NULL, "
        "size bigint, loaded_at timestamptz NOT NULL DEFAULT now())").format(sql.Identifier(schema, "deliveries")))


def _stage(conn: Any, path: Path, width: int) -> None:
    from psycopg import sql

    cols = [sql.Identifier(f"c{i}") for i in range(width)]
    conn.execute(sql.SQL("CREATE TEMP TABLE sf1630_stage ({}, line bigint GENERATED BY DEFAULT AS IDENTITY "
                         "(START WITH 2)) ON COMMIT DROP").format(
                             sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in cols)))
    lines = _lines(path)
    if lines is not None:
        copied = _copy_bytes(conn, path, sql.SQL(", ").join(cols))
        if copied + 1 == lines:  # one line per row: the identity numbers them right
            return
        conn.execute("TRUNCATE sf1630_stage")
    # Blank lines, or fields over several lines: number each row by its line in Python.
    with conn.cursor() as cur, cur.copy("COPY sf1630_stage FROM STDIN") as copy, read_csv(path) as (_, rows):
        for line, row in rows:
            copy.write_row([*(v if v != "" else None for v in row), line])


def _lines(path: Path) -> int | None:
    """How many lines the file has; None when it has blank lines or lone carriage returns."""
    count, tail, last = 0, b"", b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if chunk.endswith(b"\r"):
                chunk += f.read(1)
            joined = tail + chunk
            if b"\n\n" in joined or b"\n\r\n" in joined or chunk.count(b"\r") != chunk.count(b"\r\n"):
                return None
            count, tail, last = count + chunk.count(b"\n"), chunk[-2:], chunk[-1:]
    return count + (last != b"\n")


def _copy_bytes(conn: Any, path: Path, cols: Any) -> int:
    """COPY the file into the staging table as it is; returns the rows copied."""
    import psycopg
    from psycopg import sql

    query = sql.SQL("COPY sf1630_stage ({}) FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true, "
                    "ENCODING 'UTF8')").format(cols)
    try:
        with conn.cursor() as cur, open(path, "rb") as f:
            with cur.copy(query) as copy:
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
            return cur.rowcount
    except psycopg.errors.DataError as exc:  # ragged rows, bad quoting, bytes that are not UTF-8
        where = re.search(r"line (\d+)", (exc.diag.context or ""))
        text = redact(exc.diag.message_primary or type(exc).__name__, ["UTF8"])
        raise LoadError(f"{path.name}:{where[1] if where else '?'}: the row does not match the header or is "
                        f"not UTF-8 CSV ({text}); nothing was loaded") from None


def _check(conn: Any, sampled: list, checks: list) -> list:
    """The file's column types: the sample's, unless a staged value breaks them."""
    from psycopg import sql

    wanted = [(i, k) for i, k in enumerate(checks) if k != TEXT]
    if not wanted:
        return sampled
    tests = [_test(sql.Identifier(f"c{i}"), k) for i, k in wanted]
    passed = conn.execute(sql.SQL("SELECT {} FROM sf1630_stage").format(sql.SQL(", ").join(tests))).fetchone()
    kinds = list(sampled)
    for (i, _), ok in zip(wanted, passed):
        if not ok:
            kinds[i] = _exact(conn, i)
    return kinds


def _test(col: Any, kind: str | None) -> Any:
    from psycopg import sql

    if kind is None:
        return sql.SQL("NOT coalesce(bool_or({} <> ''), false)").format(col)
    check = sql.SQL(QUICK_INTEGER).format(c=col) if kind == INTEGER else sql.SQL("{} ~ {}").format(col, PATTERNS[kind])
    return sql.SQL("coalesce(bool_and({}) FILTER (WHERE {} <> ''), true)").format(check, col)


def _exact(conn: Any, index: int) -> str | None:
    from psycopg import sql

    col = sql.Identifier(f"c{index}")
    integer, real, seen = conn.execute(sql.SQL(
        "SELECT bool_and({c} ~ {i}) FILTER (WHERE {c} <> ''), bool_and({c} ~ {r}) FILTER (WHERE {c} <> ''), "
        "bool_or({c} <> '') FROM sf1630_stage").format(c=col, i=PATTERNS[INTEGER], r=PATTERNS[REAL])).fetchone()
    return None if not seen else INTEGER if integer else REAL if real else TEXT


def _columns(conn: Any, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, SQL type) of each column; empty when there is no such table."""
    return conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table)).fetchall()


def type_class(sql_type: str) -> str:
    """INTEGER, REAL or TEXT for a PostgreSQL column type (dates and the like count as TEXT)."""
    if sql_type in ("bigint", "integer", "smallint"):
        return INTEGER
    return REAL if sql_type.startswith(("numeric", "double precision", "real")) else TEXT


def _prepare(conn: Any, schema: str, table: str, header: list[str], kinds: list, strict: bool) -> Plan:
    from psycopg import sql

    target = sql.Identifier(schema, table)
    if not _columns(conn, schema, table):
        defs = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(TYPES[k or TEXT]))
                                  for n, k in [*zip(header, kinds), *META])
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, defs))
        conn.execute(sql.SQL("CREATE INDEX ON {} ({})").format(target, sql.Identifier(META[0][0])))
    existing = _columns(conn, schema, table)
    steps = plan(table, [(n, type_class(t)) for n, t in existing], header, kinds, strict)
    for name, kind in steps.add:
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(target, sql.Identifier(name),
                                                                      sql.SQL(TYPES[kind])))
    for name in steps.widen:
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE text USING {}::text").format(
            target, sql.Identifier(name), sql.Identifier(name)))
    steps.kinds = {**steps.kinds, **_sql_types(conn, schema, table, steps)}
    return steps


def _sql_types(conn: Any, schema: str, table: str, steps: Plan) -> dict[str, str]:
    # Cast each staged column to the column's own type, whatever the table's owner chose.
    actual = dict(_columns(conn, schema, table))
    return {header_name: actual[column] for header_name, column in steps.names.items()}


def _insert(conn: Any, target: Any, header: list[str], steps: Plan, uuid: str) -> int:
    from psycopg import sql

    names = [steps.names[n] for n in header] + [steps.names[n] for n, _ in META]
    casts = [sql.SQL("NULLIF({}, '')::{}").format(sql.Identifier(f"c{i}"), sql.SQL(steps.kinds[n]))
             for i, n in enumerate(header)]
    casts += [sql.SQL("%s::{}").format(sql.SQL(steps.kinds[META[0][0]])),
              sql.SQL("line::{}").format(sql.SQL(steps.kinds[META[1][0]]))]
    query = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM sf1630_stage").format(
        target, sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(", ").join(casts))
    return conn.execute(query, (uuid,)).rowcount


SINK = PostgresSink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the postgres sink."""
    register(SINK)
