"""The ``sql`` adapter: rows from a query against the source system's own database.

``url`` (or the environment variable named by ``url_env``, to keep passwords out of config) is
``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``postgresql://user@host/db``.
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
from typing import Any, BinaryIO

from sf1630.api import ExtractError, ExtractResult, Job, redact
from sf1630_plugins.adapters import check_header, write_csv

PARAMETERS = ("municipality", "authority_id", "cvr", "period", "source")
_PARAM = re.compile(r"(?<![:\w]):(" + "|".join(PARAMETERS) + r")\b")
BATCH = 1000


def extract(job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    """Run ``options.query`` and write its rows."""
    url = options.url or os.environ.get(options.url_env or "", "")
    origin = f"{source.name} sql adapter"
    if not url or not options.query:
        raise ExtractError(f"{origin}: set 'url' (or 'url_env') and 'query' in the source's options")
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
            conn = psycopg.connect(url)
        except psycopg.Error as exc:
            raise ExtractError(f"{origin}: cannot connect to the database: {str(exc).strip()}") from None
        with conn, conn.transaction(), conn.cursor(name="sf1630_extract") as cur:
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
