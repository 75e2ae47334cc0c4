"""How the ``postgres`` sink puts a file's rows into its table: COPY straight in, or through staging.

Straight in (issue #19), when the types are known before the load (declared by the source, already
in the table, or guessed from the first rows) and every row is one line: the delivery's constant
columns get column defaults for the length of the transaction (``_line``: each line is sent led by
its number), and ``COPY`` parses the file into the typed table in one pass: in the text format when the
file has no '"' and no '\\' (it then reads the file as CSV does, and faster), else as CSV. A quick
look before the COPY finds which; what the straight path cannot load (a lone carriage return; a
field over several lines, found by counting lines when the file has quotes) is found while the
chunks are sent and undoes the attempt (a savepoint). A value that does not fit a declared type
fails the load with its line and column; one that breaks a guess undoes the attempt and the careful
path runs instead.

Careful: ``COPY`` the file's bytes into a temporary staging table of text columns; check every
staged value against the types in one query (a declared type that fails names its first line;
a guessed one that fails is typed again, in SQL); then ``INSERT INTO <table> SELECT`` with casts.
The table's defaults take a lock that makes readers of the table wait until the load commits.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sf1630.api import LoadError, redact
from sf1630_plugins.sinks.current import Keys
from sf1630_plugins.sinks.table import DATE, INTEGER, KEYS, META, REAL, TEXT, Types, misfit, read_csv

# 64 KiB: a numbered chunk's lines stay in the CPU's cache (a quarter less client CPU than 1 MiB), and
# psycopg sends a block under 128 KiB without copying it.
CHUNK = 1 << 16
PATTERNS = {INTEGER: r"^-?(0|[1-9][0-9]{0,17})$", REAL: r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"}  # as table.classify
DECLARED_PATTERNS = {INTEGER: r"^-?[0-9]{1,18}$", REAL: PATTERNS[REAL], DATE: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
# A cheaper first check of INTEGER columns (no regex); it may only pass values PATTERNS[INTEGER]
# passes, a false alarm (e.g. "-0") just types the column again with the regexes.
QUICK_INTEGER = ("(translate({c}, '-0123456789', '') = '' AND length({c}) <= 18 AND {c} NOT LIKE '0_%' "
                 "AND {c} NOT LIKE '-0%' AND {c} NOT LIKE '_%-%' AND {c} <> '-')")
MISFITS = {"22P02", "22003", "22007", "22008"}  # invalid text, out of range, bad or overflowing date


class Careful(Exception):
    """The straight COPY cannot load this file as it is: use the staging path."""


def constants(keys: Keys, uuid: str) -> dict[str, str | None]:
    """The columns every row of a delivery shares, by name."""
    return {"authority": keys.authority, "period": keys.period, "source": keys.source, META[0][0]: uuid}


# -- straight in -------------------------------------------------------------------------------------

def copy_straight(conn: Any, target: Any, table: str, path: Path, types: Types, names: dict[str, str],
                  fixed: dict[str, str | None], look: Look) -> int:
    """COPY the file, each line led by its number, into the typed table, with the delivery's constants as
    the table's defaults (``drop_defaults`` drops them); Careful when it must be staged. Runs inside a
    savepoint."""
    import psycopg  # late: psycopg loads only when this sink works
    from psycopg import sql  # late: psycopg loads only when this sink works

    marks = look.marks()
    _set_defaults(conn, target, names, fixed)
    cols = sql.SQL(", ").join(sql.Identifier(names[n]) for n in types.header)
    numbered = sql.SQL(", ").join([sql.Identifier(names[META[1][0]]), cols])
    if not marks.quotes and not marks.backslashes and conn.info.server_version >= 150000:
        # Without '"' and '\\' the text format reads the file as CSV does, with about a ninth less server
        # CPU (issue #19); HEADER in text format came with PostgreSQL 15.
        form: Any = sql.SQL("FORMAT text, NULL ''")
    else:  # an empty field is NULL; a quoted empty one ("") too, which FORCE_NULL costs on every value
        form = sql.SQL("FORMAT csv, FORCE_NULL ({})").format(cols) if marks.doubled else sql.SQL("FORMAT csv")
    query = sql.SQL("COPY {} ({}) FROM STDIN WITH ({}, DELIMITER ';', HEADER true, ENCODING 'UTF8')").format(
        target, numbered, form)
    # Lines are counted, when a field may span several, while the server parses the chunks sent before.
    scanner = Scanner(blanks=len(types.header) == 1, count=marks.quotes)
    try:
        with conn.cursor() as cur:
            with cur.copy(query) as copy:
                for chunk in number_lines(scanner.chunks(path)):
                    copy.write(chunk)
            rows = cur.rowcount
    except psycopg.errors.DataError as exc:
        if count_lines(path) is None:
            raise Careful("blank lines") from None
        raise _copy_error(exc, path, table, types) from None
    if marks.quotes and rows + 1 != scanner.lines:
        raise Careful("a field over several lines: rows are numbered by their own lines")
    return rows


def _set_defaults(conn: Any, target: Any, names: dict[str, str], fixed: dict[str, str | None]) -> None:
    """The delivery's constants as the table's defaults, for this transaction."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    defaults = [sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(sql.Identifier(names[n]), sql.Literal(v))
                for n, v in fixed.items()]
    conn.execute(sql.SQL("ALTER TABLE {} {}").format(target, sql.SQL(", ").join(defaults)))


def drop_defaults(target: Any, names: dict[str, str], fixed: dict[str, str | None]) -> Any:
    """The statement that drops what ``_set_defaults`` set (run with the load's last statements)."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    drop = [sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(names[n])) for n in fixed]
    return sql.SQL("ALTER TABLE {} {}").format(target, sql.SQL(", ").join(drop))


def number_lines(chunks: Iterable[bytes], first: int = 2) -> Generator[bytes, None, None]:
    """The chunks with every line after the header led by its number and ';', the ``_line`` field.

    Numbered here, on the client, instead of by a sequence in the server: ``nextval`` for each row
    was a tenth of the server's CPU in a load (issue #19), and the server is the slower end of a COPY.
    A line is passed on as it comes, however long. A field over several lines gets numbers inside
    it; the row count then shows it (``Careful``).
    """
    number, header, inside = first, True, False  # inside: the current line has begun (and has its number)
    for chunk in chunks:
        end = chunk.find(b"\n") + 1
        if not end:  # no line ends in this chunk
            if chunk and not (header or inside):
                chunk, number, inside = b"%d;%b" % (number, chunk), number + 1, True
            yield chunk
            continue
        head, body = chunk[:end], chunk[end:]
        yield head if header or inside else b"%d;%b" % (number, head)
        number += not (header or inside)
        header = inside = False
        lines = body.split(b"\n")
        tail = lines[-1]
        if not tail:
            lines.pop()
        if lines:  # one formatting of the whole chunk: a third less CPU than one per line
            count, template = len(lines), b"%d;%b\n" * len(lines)
            fields: list[Any] = [b""] * (2 * count)
            fields[::2], fields[1::2] = range(number, number + count), lines
            yield (template[:-1] if tail else template) % tuple(fields)
            number, inside = number + count, bool(tail)


def _copy_error(exc: Any, path: Path, table: str, types: Types) -> Exception:
    """A misfit of a declared column fails the load; a guess that broke means staging; the rest is the file's."""
    context = exc.diag.context or ""
    line = re.search(r"line (\d+)", context)
    if exc.sqlstate in MISFITS and line:
        for i, name in enumerate(types.header):
            if f", column {name}: " in context or context.endswith(f", column {name}"):
                return misfit(path, int(line[1]), name, types.kinds[i]) if types.declared[i] else Careful(name)
    return file_error(exc, path, line[1] if line else "?")


def file_error(exc: Any, path: Path, line: str) -> LoadError:
    text = redact(exc.diag.message_primary or type(exc).__name__, ["UTF8"])
    return LoadError(f"{path.name}:{line}: the row does not match the header or is not UTF-8 CSV ({text}); "
                     "nothing was loaded")


def _copy(conn: Any, query: Any, path: Path) -> int:
    with conn.cursor() as cur, open(path, "rb") as f:
        with cur.copy(query) as copy:
            while chunk := f.read(CHUNK):
                copy.write(chunk)
        return cur.rowcount


def count_lines(path: Path) -> int | None:
    """How many lines the file has; None when it has blank lines or lone carriage returns."""
    scanner = Scanner(blanks=True, count=True)
    try:
        for _ in scanner.chunks(path):
            pass
    except Careful:
        return None
    return scanner.lines


@dataclass
class Marks:
    """Which of the bytes that change how COPY reads a file the file holds."""

    quotes: bool = False
    backslashes: bool = False
    doubled: bool = False  # '""': a quoted empty field, maybe


def survey(path: Path) -> Marks:
    """The file's marks, read before the COPY starts (0.02 s per 1,000,000 rows: one byte is looked for
    at memchr's speed; '""', twenty times slower, only in a chunk that has '"')."""
    marks, tail = Marks(), b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            marks.backslashes = marks.backslashes or b"\\" in chunk
            if b'"' in chunk:
                marks.quotes = True
                marks.doubled = marks.doubled or b'""' in chunk or tail == b'"' and chunk[:1] == b'"'
            tail = chunk[-1:]
    return marks


class Look:
    """``survey`` in a thread of its own, started before the load connects: the file is read while the
    statements before the COPY wait for the server."""

    def __init__(self, path: Path):
        self._found: Marks | BaseException = Marks()
        self._thread = threading.Thread(target=self._run, args=(path,), name="sf1630-survey", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._found = survey(path)
        except BaseException as exc:  # raised where the marks are asked for
            self._found = exc

    def wait(self) -> None:
        self._thread.join()

    def marks(self) -> Marks:
        self._thread.join()
        if isinstance(self._found, BaseException):
            raise self._found
        return self._found


class Scanner:
    """Reads a file in chunks, counting its lines when ``count``; Careful at a lone carriage return or,
    when ``blanks``, a blank line."""

    def __init__(self, blanks: bool = True, count: bool = True):
        self.blanks, self.count = blanks, count
        self.lines = 0

    def chunks(self, path: Path) -> Generator[bytes, None, None]:
        count, tail, last = 0, b"", b"\n"
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                if chunk.endswith(b"\r"):
                    chunk += f.read(1)
                crs = b"\r" in chunk  # rare: the searches for blank lines cost more than the count
                if crs and chunk.count(b"\r") != chunk.count(b"\r\n"):
                    raise Careful("lone carriage returns")
                if self.blanks and (_blank(tail + chunk[:3], crs) or _blank(chunk, crs)):
                    raise Careful("blank lines")
                if self.count:
                    count += chunk.count(b"\n")
                tail, last = chunk[-2:], chunk[-1:]
                yield chunk
        self.lines = count + (last != b"\n")


def _blank(data: bytes, crs: bool) -> bool:
    return b"\n\n" in data or crs and b"\n\r\n" in data


# -- careful: through staging ------------------------------------------------------------------------

def stage(conn: Any, path: Path, width: int) -> None:
    """The file in a temporary table of text columns ``c0``..., with each row's ``line``."""
    import psycopg  # late: psycopg loads only when this sink works
    from psycopg import sql  # late: psycopg loads only when this sink works

    cols = [sql.Identifier(f"c{i}") for i in range(width)]
    conn.execute(sql.SQL("CREATE TEMP TABLE sf1630_stage ({}, line bigint GENERATED BY DEFAULT AS IDENTITY "
                         "(START WITH 2)) ON COMMIT DROP").format(
                             sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in cols)))
    lines = count_lines(path)
    if lines is not None:
        query = sql.SQL("COPY sf1630_stage ({}) FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true, "
                        "ENCODING 'UTF8')").format(sql.SQL(", ").join(cols))
        try:
            copied = _copy(conn, query, path)
        except psycopg.errors.DataError as exc:  # ragged rows, bad quoting, bytes that are not UTF-8
            line = re.search(r"line (\d+)", exc.diag.context or "")
            raise file_error(exc, path, line[1] if line else "?") from None
        if copied + 1 == lines:  # one line per row: the identity numbers them right
            return
        conn.execute("TRUNCATE sf1630_stage")
    # Blank lines, or fields over several lines: number each row by its line in Python.
    with conn.cursor() as cur, cur.copy("COPY sf1630_stage FROM STDIN") as copy, read_csv(path) as (_, rows):
        for line, row in rows:
            copy.write_row([*(v if v != "" else None for v in row), line])


def check(conn: Any, path: Path, types: Types, checks: list) -> list:
    """The file's column types: as given, unless a staged value breaks a guess (a declared one fails)."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    for i, (declared, kind) in enumerate(zip(types.declared, types.kinds)):
        if declared and kind is not None and kind in DECLARED_PATTERNS:
            _first_misfit(conn, path, types.header[i], i, kind)
    wanted = [(i, k) for i, k in enumerate(checks) if k != TEXT and not types.declared[i]]
    if not wanted:
        return types.kinds
    tests = [_test(sql.Identifier(f"c{i}"), k) for i, k in wanted]
    passed = conn.execute(sql.SQL("SELECT {} FROM sf1630_stage").format(sql.SQL(", ").join(tests))).fetchone()
    kinds = list(types.kinds)
    for (i, _), ok in zip(wanted, passed):
        if not ok:
            kinds[i] = _exact(conn, i)
    return kinds


def _first_misfit(conn: Any, path: Path, name: str, index: int, kind: str) -> None:
    from psycopg import sql  # late: psycopg loads only when this sink works

    col = sql.Identifier(f"c{index}")
    bad = conn.execute(sql.SQL("SELECT min(line) FROM sf1630_stage WHERE {} <> '' AND {} !~ {}").format(
        col, col, DECLARED_PATTERNS[kind])).fetchone()[0]
    if bad is not None:
        raise misfit(path, bad, name, kind)


def _test(col: Any, kind: str | None) -> Any:
    from psycopg import sql  # late: psycopg loads only when this sink works

    if kind is None:
        return sql.SQL("NOT coalesce(bool_or({} <> ''), false)").format(col)
    test = sql.SQL(QUICK_INTEGER).format(c=col) if kind == INTEGER else sql.SQL("{} ~ {}").format(col, PATTERNS[kind])
    return sql.SQL("coalesce(bool_and({}) FILTER (WHERE {} <> ''), true)").format(test, col)


def _exact(conn: Any, index: int) -> str | None:
    from psycopg import sql  # late: psycopg loads only when this sink works

    col = sql.Identifier(f"c{index}")
    integer, real, seen = conn.execute(sql.SQL(
        "SELECT bool_and({c} ~ {i}) FILTER (WHERE {c} <> ''), bool_and({c} ~ {r}) FILTER (WHERE {c} <> ''), "
        "bool_or({c} <> '') FROM sf1630_stage").format(c=col, i=PATTERNS[INTEGER], r=PATTERNS[REAL])).fetchone()
    return None if not seen else INTEGER if integer else REAL if real else TEXT


def insert(conn: Any, target: Any, header: list[str], names: dict[str, str], sql_types: dict[str, str],
           fixed: dict[str, str | None]) -> int:
    """Move the staged rows into the table, casting each column to the table's own type."""
    from psycopg import sql  # late: psycopg loads only when this sink works

    order = [n for n, _ in KEYS] + [META[0][0]]
    into = [names[n] for n in order] + [names[n] for n in header] + [names[META[1][0]]]
    values = [sql.SQL("{}::{}").format(sql.Literal(fixed[n]), sql.SQL(sql_types[n])) for n in order]
    values += [sql.SQL("NULLIF({}, '')::{}").format(sql.Identifier(f"c{i}"), sql.SQL(sql_types[n]))
               for i, n in enumerate(header)]
    values.append(sql.SQL("line::{}").format(sql.SQL(sql_types[META[1][0]])))
    query = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM sf1630_stage").format(
        target, sql.SQL(", ").join(map(sql.Identifier, into)), sql.SQL(", ").join(values))
    return conn.execute(query).rowcount
