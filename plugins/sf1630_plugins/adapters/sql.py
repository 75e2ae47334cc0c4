"""The ``sql`` adapter: rows from a query against the source system's own database.

``url`` (or the environment variable named by ``url_env``, to keep passwords out of config) is
``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``postgresql://user@host/db``.
A relative SQLite path is relative to the municipality file's folder, as every path in options is.
An unset or empty ``url_env`` variable is an error, never a default database.
``query`` may use the parameters ``:municipality`` (the municipality key), ``:authority_id``,
``:cvr``, ``:period`` and ``:source`` (the source code). The query's column names become the
header. Rows are streamed from a cursor (a server-side one on PostgreSQL), never fetched whole.
SQLite databases are opened read-only.

Values are written as text: NULL as an empty field, dates as ISO 8601, numbers as Python prints
them ('.' as decimal point).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from sf1630.api import ExtractError, ExtractResult, Job, redact
from sf1630_plugins.adapters import check_header, write_csv

PARAMETERS = ("municipality", "authority_id", "cvr", "period", "source")
_PARAM = re.compile(r"(?<![:\w]):(" + "|".join(PARAMETERS) + r")\b")
BATCH = 1000
CONNECT_TIMEOUT = 15  # seconds; an unreachable database fails the extract instead of hanging it


def extract(job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    """Run ``options.query`` and write its rows."""
    origin = f"{source.name} sql adapter"
    url = connection_url(options, origin)
    params = parameters(job)
    with _cursor(url, origin) as (cursor, dialect):
        try:
            cursor.execute(_translate(options.query, dialect), params)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ExtractError(f"{origin}: the query failed: {type(exc).__name__}: {redact(first)}") from None
        if cursor.description is None:
            raise ExtractError(f"{origin}: the query returned no result set; it must be a SELECT")
        header = check_header([d[0] for d in cursor.description], source.header, origin, options.strict_header)
        count = write_csv(out, header, (_texts(row) for row in _rows(cursor)))
    return ExtractResult(count, header)


def delivered(job: Job, source: Any, options: Any) -> None:
    """Nothing to tidy: the source system's database is only read."""


def check(job: Job, source: Any, options: Any) -> str:
    """Connect and have the database plan the query (EXPLAIN: nothing is run); ExtractError if it cannot."""
    origin = f"{source.name} sql adapter"
    url = connection_url(options, origin)
    with _cursor(url, origin) as (cursor, dialect):
        try:
            cursor.execute("EXPLAIN " + _translate(options.query, dialect), parameters(job))
            cursor.fetchall()
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ExtractError(f"{origin}: the database does not take the query: {type(exc).__name__}: "
                               f"{redact(first)}") from None
    return f"{dialect} database answers and plans the query ({_shown(url)})"


def unresolved(options: Any) -> list[str]:
    """What makes the connection setting resolve to nothing (no url, an unset url_env variable)."""
    if options.url:
        return [] if options.query else ["set 'query' in the source's options"]
    if not options.url_env:
        return ["set 'url' or 'url_env' (the source database), and 'query', in the source's options"]
    if not os.environ.get(options.url_env):
        return [f"the environment variable {options.url_env} named by url_env is not set or is empty; set it to "
                "the database URL in the agent's environment (e.g. the service's EnvironmentFile)"]
    return [] if options.query else ["set 'query' in the source's options"]


def connection_url(options: Any, origin: str) -> str:
    """The database URL from ``url`` or ``url_env``; ExtractError naming what is missing, never a default."""
    problems = unresolved(options)
    if problems:
        raise ExtractError(f"{origin}: {problems[0]}; nothing was extracted")
    return options.url or relative_url(os.environ[options.url_env], getattr(options, "config_folder", None))


def relative_url(url: str, base: Path | None) -> str:
    """``sqlite:///x.db`` made to name ``base/x.db`` (the municipality file's folder); other URLs as they are."""
    if base is None or not url.startswith("sqlite:///") or url.startswith("sqlite:////"):
        return url
    return "sqlite:///" + str(Path(base) / url[len("sqlite:///"):])


def _shown(url: str) -> str:
    return re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:…@", url)  # never print a password


def parameters(job: Job) -> dict[str, str]:
    """The values a query may use."""
    m = job.municipality
    return {"municipality": m.key, "authority_id": m.authority_id, "cvr": m.cvr,
            "period": job.period, "source": job.source}


@contextlib.contextmanager
def _cursor(url: str, origin: str) -> Iterator[tuple[Any, str]]:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not os.path.exists(path):
            raise ExtractError(f"{origin}: no SQLite database at {path!r} (from url {url!r})")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            yield conn.cursor(), "sqlite"
        finally:
            conn.close()
    elif url.startswith(("postgresql://", "postgres://")):
        import psycopg  # only when a PostgreSQL source database is configured

        try:
            pg = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise ExtractError(f"{origin}: cannot connect to the database: {str(exc).strip()}") from None
        with pg, pg.transaction(), pg.cursor(name="sf1630_extract") as cur:
            cur.itersize = BATCH
            yield cur, "postgresql"
    else:
        raise ExtractError(f"{origin}: url must start with sqlite:/// or postgresql://, not {url.split(':')[0]!r}")


def _translate(query: str, dialect: str) -> str:
    # psycopg uses %(name)s; a literal % must then be doubled. SQLite takes :name as it is.
    if dialect == "sqlite":
        return query
    return _PARAM.sub(r"%(\1)s", query.replace("%", "%%"))


def _rows(cursor: Any) -> Iterator[tuple]:
    while True:
        batch = cursor.fetchmany(BATCH)
        if not batch:
            return
        yield from batch


def _texts(row: tuple) -> list[str]:
    return [_text(value) for value in row]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
