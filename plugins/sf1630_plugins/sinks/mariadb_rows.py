"""How the ``mariadb`` sink puts a file's rows into its table: ``LOAD DATA LOCAL INFILE``.

Straight: the delivered file itself, when every row is one line. A file without quotes goes through
a pipe (``sinks/mariadb_feed.py``) that writes each empty field as NULL while the server loads, so
every field without a test loads straight into its column; the declared whole numbers at the end of
each row need no test on the server either: the feed checks them. A file with quotes, or whose last
field has a test (a short row would look like an empty last field), is read once first
(``sinks/mariadb_scan.py``): its lines, and whether a field may be empty; with empty fields, the
fields go through user variables so that an empty one becomes NULL (issue #19: the variables cost
0.9 s of 7.4 s of server CPU per 1,000,000 rows). The delivery's constants and each row's line
number are set by the statement, the constants as the columns' defaults. ``LOCAL`` makes the server
turn a bad value into a warning instead of an error, so every warning is read back: a value that
does not fit a declared type fails the load with its line and column, one that breaks a guessed type
sends the load down the careful path, a ragged row fails it.

Careful: Python reads the file once, finds the exact type of each guessed column and checks each
declared one, and writes a plain copy (one row a line, its line number first) that is then loaded
the same way. The copy lives in a private temporary folder and is removed at once.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sf1630.api import LoadError
from sf1630_plugins.sinks.current import Keys
from sf1630_plugins.sinks.mariadb_feed import Feeder, Glance, glance, streams
from sf1630_plugins.sinks.mariadb_scan import first_misfit, scan
from sf1630_plugins.sinks.table import (
    DATE, INTEGER, META, REAL, TEXT, Types, classify, merge, misfit, read_csv,
)

_WARNED = re.compile(r"column (?:`[^`]*`\.`[^`]*`\.`([^`]*)`|'([^']*)') at row (\d+)")
_RAGGED = re.compile(r"Row (\d+) (?:doesn't contain data|was truncated)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECLARED_INTEGER = re.compile(r"-?[0-9]{1,18}")
_NUMBER_FIELD = re.compile(rb"-?[0-9]*")  # empty: NULL; a misplaced '-' the server warns about
DECIMAL_PLACES = 10  # REAL columns are DECIMAL(38, 10): a guess with more places stays TEXT
_FITS_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,27})(\.[0-9]{1,%d})?" % DECIMAL_PLACES)

log = logging.getLogger("sf1630.sinks")


class Careful(Exception):
    """The file cannot be loaded straight: rewrite it first."""


# MariaDB rounds "1.5" into a BIGINT without a word, so every guessed number is matched against
# its pattern as it loads; the first misfit is noted as "<field>:<line>" in @sf1630_bad and its
# value loads as NULL.
GUESSED_OK = {INTEGER: "^-?(0|[1-9][0-9]{0,17})$",
              REAL: "^-?(0|[1-9][0-9]{0,27})([.][0-9]{1,%d})?$" % DECIMAL_PLACES}
# A declared type is checked by the server itself (issue #19: the patterns cost a fifth of the load):
# a value that is no number or date, out of range or with too many decimals is a warning, read
# back after the load. Only what it takes without a word is tested here, cheaply: in a whole
# number a point (rounded), an exponent ("1e3" is 1000) or a first character that is no digit or
# minus (" 5", a tab, "+5"); LOCATE ignores case here. A date not written YYYY-MM-DD (20240301 and
# 2024-3-1 pass as dates). The whole numbers at the end of the rows of a file without quotes are
# checked in Python instead (sinks/mariadb_scan.py).
DECLARED_TEST = {INTEGER: "(ASCII({f}) BETWEEN 48 AND 57 OR ASCII({f}) = 45) AND LOCATE('.', {f}) = 0 "
                          "AND LOCATE('e', {f}) = 0",
                 DATE: "{f} LIKE '____-__-__'"}
@dataclass
class Statement:
    """What a ``LOAD DATA`` names: the table, its columns for the file's fields, and the constants."""

    target: str  # `db`.`table`
    columns: list[str]  # quoted table columns, one per field of the file, in order
    fixed: dict[str, str | None]  # quoted column -> constant
    checks: list[str | None]  # per field: the test ({f}: the field) its non-empty values must pass, or None


def checks_for(kinds: list[str | None], declared: list[bool]) -> list[str | None]:
    """The test each field's non-empty values must pass while loading, None for none."""
    tests = []
    for kind, is_declared in zip(kinds, declared):
        if is_declared:
            tests.append(DECLARED_TEST.get(kind or TEXT))
        else:
            pattern = GUESSED_OK.get(kind or TEXT)
            tests.append(None if pattern is None else "{f} REGEXP " + _literal(pattern))
    return tests


def quote(name: str) -> str:
    """A MariaDB identifier, quoted."""
    return "`" + name.replace("`", "``") + "`"


def load_sql(statement: Statement, numbered: bool, crlf: bool, plain: bool = False, nulls: bool = False) -> str:
    """The ``LOAD DATA LOCAL INFILE %s`` statement; ``numbered``: the first field is the row's line;
    ``plain``: no field is empty, so a field without a test loads straight into its column;
    ``nulls``: plain, and an empty field comes as the word NULL (``mariadb_feed``), never last with a test."""
    line = "@line" if numbered else "@sf1630_line"
    fields, sets = [], [f"{quote(META[1][0])} = " + ("@line" if numbered else "(@sf1630_line := @sf1630_line + 1)")]
    last = len(statement.columns) - 1
    for i, (column, check) in enumerate(zip(statement.columns, statement.checks)):
        if (plain or nulls) and check is None:
            fields.append(column)
            continue
        if nulls and i == last:  # a short row would leave its variable NULL, like an empty field: no telling
            raise ValueError("the last field has a test: empty fields cannot come as NULL")
        fields.append(f"@c{i}")
        sets.append(f"{column} = {_checked(i, f'@c{i}', check, line, plain, i == last, nulls)}")
    ending = "\\r\\n" if crlf else "\\n"
    return (f"LOAD DATA LOCAL INFILE %s INTO TABLE {statement.target} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY ';' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '{ending}' "
            f"IGNORE 1 LINES ({', '.join((['@line'] if numbered else []) + fields)}) SET {', '.join(sets)}")


@contextlib.contextmanager
def constants_as_defaults(cur: Any, statement: Statement) -> Iterator[None]:
    """The delivery's constants as the columns' defaults while its rows load.

    Per row, a ``SET`` of the four constants cost a fifth of the load (issue #19); a default costs
    next to nothing. Changing a default is instant in MariaDB but commits at once, so it is set
    before the load's transaction and dropped after it; loads into one table hold its named lock,
    and a default left by a killed agent is replaced by the next load's.
    """
    changes = [f"ALTER COLUMN {c} " + ("DROP DEFAULT" if v is None else f"SET DEFAULT {_literal(v)}")
               for c, v in statement.fixed.items()]
    cur.execute(f"ALTER TABLE {statement.target} {', '.join(changes)}")
    try:
        yield
    finally:
        try:
            cur.execute(f"ALTER TABLE {statement.target} "
                        f"{', '.join(f'ALTER COLUMN {c} DROP DEFAULT' for c in statement.fixed)}")
        except Exception as exc:  # a lost connection: the next load sets its own defaults
            log.warning("%s: the load's column defaults stay until the next load (%s)", statement.target,
                        type(exc).__name__)


def _checked(index: int, field: str, test: str | None, line: str, plain: bool, last: bool, nulls: bool) -> str:
    # The last field's variable is NULL, without a warning, when a row ends early: noted as index
    # len(columns); a test costs per row only where the field has no check whose failure can tell.
    short = _bad(index + 1, line)
    if test is None:
        return f"IF({field} IS NULL, {short}, NULLIF({field}, ''))" if last else f"NULLIF({field}, '')"
    bad = f"IF({field} IS NULL, {short}, {_bad(index, line)})" if last else _bad(index, line)
    passes = test.replace("{f}", field)
    if nulls:
        return f"IF({field} IS NULL OR {passes}, {field}, {bad})"
    if plain:  # IF: a little cheaper than CASE (6.39 s against 6.49 s of server CPU, 1,000,000 rows)
        return f"IF({passes}, {field}, {bad})"
    return f"CASE WHEN {field} = '' THEN NULL WHEN {passes} THEN {field} ELSE {bad} END"


def _bad(index: int, line: str) -> str:
    """NULL, noting "<index>:<line>" in @sf1630_bad unless a problem was noted before."""
    return f"IF((@sf1630_bad := COALESCE(@sf1630_bad, CONCAT('{index}:', {line}))) IS NULL, NULL, NULL)"


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def load_straight(cur: Any, path: Path, statement: Statement, types: Types, look: Glance | None = None) -> int:
    """LOAD DATA the delivered file; Careful when it must be rewritten first. ``look``: the file's
    glance, when it was taken while the load connected."""
    look = look or glance(path)
    numbers = 0 if look.quoted else trailing_numbers(statement)
    if numbers:  # checked in Python while the server loads: it only converts them
        statement = replace(statement, checks=[*statement.checks[:-numbers], *[None] * numbers])
    if not look.quoted and statement.checks[-1] is None and streams():
        return _load_fed(cur, path, statement, types, numbers, look.crlf)
    scanned = scan(path)
    if scanned is None:
        raise Careful("blank lines or lone carriage returns")
    if scanned.word_null:  # the careful copy quotes every field: the word stays text
        raise Careful("the word NULL")
    with ThreadPoolExecutor(1) as pool:
        checked = pool.submit(first_misfit, path, numbers) if numbers else None
        cur.execute("SET @sf1630_line = 1, @sf1630_bad = NULL")
        rows = cur.execute(load_sql(statement, False, scanned.crlf, plain=not scanned.empty), (str(path),))
        misfit = checked.result() if checked else None
    if misfit is not None:
        raise _misfit_in_row(path, misfit, types, len(types.header) - numbers)
    if rows + 1 != scanned.lines:  # first: the rows' numbers in warnings are then not their lines
        raise Careful("a field over several lines: rows are numbered by their own lines")
    check_warnings(cur, path, types, numbered=False)
    return rows


def _load_fed(cur: Any, path: Path, statement: Statement, types: Types, numbers: int, crlf: bool) -> int:
    """LOAD DATA a file without quotes through a ``Feeder``: every field straight into its column."""
    feeder = Feeder(path, numbers, crlf)
    try:
        cur.execute("SET @sf1630_line = 1, @sf1630_bad = NULL")
        rows = cur.execute(load_sql(statement, False, crlf, nulls=True), (feeder.name,))
    finally:
        feeder.close()
    if feeder.refused:
        raise Careful(feeder.refused)
    if feeder.misfit is not None:
        raise _misfit_in_row(path, feeder.misfit, types, len(types.header) - numbers)
    if rows + 1 != feeder.lines:
        raise Careful("rows and lines differ")
    check_warnings(cur, path, types, numbered=False)
    return rows


def trailing_numbers(statement: Statement) -> int:
    """How many fields at the end of a row are declared whole numbers (the first field never counts:
    the scan finds a row's last fields by the ';' before each)."""
    count = 0
    for check in reversed(statement.checks[1:]):
        if check != DECLARED_TEST[INTEGER]:
            break
        count += 1
    return count


def _misfit_in_row(path: Path, line: int, types: Types, first: int) -> LoadError:
    """The error for the row at ``line``, whose fields from ``first`` on are not all whole numbers."""
    with open(path, "rb") as f:
        row = next(r for number, r in enumerate(f, 1) if number == line)
    fields = row.rstrip(b"\r\n").split(b";")
    if len(fields) != len(types.header):
        return LoadError(f"{path.name}:{line}: the row has another number of fields than the header; "
                         "nothing was loaded")
    index = next((i for i in range(first, len(fields)) if not _NUMBER_FIELD.fullmatch(fields[i])), first)
    return misfit(path, line, types.header[index], INTEGER)


def _first_misfit(cur: Any, path: Path, types: Types, numbered: bool) -> None:
    cur.execute("SELECT @sf1630_bad")
    bad = cur.fetchone()[0]
    if bad is None:
        return
    index, line = (int(x) for x in str(bad.decode() if isinstance(bad, bytes) else bad).split(":"))
    if index == len(types.header):
        raise LoadError(f"{path.name}:{line}: the row has another number of fields than the header; "
                        "nothing was loaded")
    name = types.header[index]
    if numbered:  # the careful copy was checked in Python: this cannot happen but must not pass quietly
        raise LoadError(f"{path.name}:{line}: column {name!r}: MariaDB did not take the value; nothing was loaded")
    if types.declared[index]:
        raise misfit(path, line, name, types.kinds[index])
    raise Careful(name)


def check_warnings(cur: Any, path: Path, types: Types, numbered: bool) -> None:
    """Raise for the first misfit or warning of a LOAD DATA: a misfit, a ragged row, or Careful for a broken guess."""
    cur.execute("SHOW WARNINGS LIMIT 1")
    first = cur.fetchone()
    message = "" if first is None else str(first[2])
    ragged = _RAGGED.search(message)
    if ragged:  # before the misfits: a short row's missing number is no misfit of its own
        raise LoadError(f"{path.name}:{int(ragged[1]) + 1}: the row has another number of fields than the header; "
                        "nothing was loaded")
    _first_misfit(cur, path, types, numbered)
    if first is None:
        return
    found = _WARNED.search(message)
    by_name = {n.lower(): i for i, n in enumerate(types.header)}
    index = by_name.get((found[1] or found[2]).lower()) if found else None
    if index is None or found is None:
        raise LoadError(f"{path.name}: MariaDB warned while loading ({_redacted(message)}); nothing was loaded")
    name, row = types.header[index], int(found[3])
    if numbered:  # the careful copy was checked: the table's own column type refused the value
        raise LoadError(f"{path.name}: row {row}: column {name!r}: a value does not fit the table's column type; "
                        "change the column or the extract; nothing was loaded")
    if types.declared[index]:
        raise misfit(path, row + 1, name, types.kinds[index])
    raise Careful(name)


def _redacted(message: str) -> str:
    return re.sub(r"'[^']*'", "'…'", message)[:200]  # no row data in errors (issue #14)


# -- careful: a plain copy ---------------------------------------------------------------------------

def exact_types(path: Path, types: Types) -> list[str | None]:
    """Every row read: the exact type of each guessed column; a declared misfit fails with its line."""
    kinds = list(types.kinds)
    guessed = [i for i, d in enumerate(types.declared) if not d and kinds[i] != TEXT]
    for i in guessed:
        kinds[i] = None
    checked = [(i, k) for i, (k, d) in enumerate(zip(types.kinds, types.declared)) if d and k != TEXT]
    with read_csv(path) as (_, rows):
        for line, row in rows:
            for i, kind in checked:
                if row[i] != "" and not fits_declared(row[i], kind):
                    raise misfit(path, line, types.header[i], kind)
            for i in guessed:
                if kinds[i] != TEXT and row[i] != "":
                    kinds[i] = merge(kinds[i], _classify(row[i]))
    return kinds


def fits_declared(value: str, kind: str | None) -> bool:
    """Whether a non-empty value fits a declared type as MariaDB stores it."""
    if kind == INTEGER:
        return bool(_DECLARED_INTEGER.fullmatch(value))
    if kind == REAL:
        return bool(_FITS_DECIMAL.fullmatch(value))
    return bool(_DATE.fullmatch(value)) if kind == DATE else True


def _classify(value: str) -> str | None:
    kind = classify(value)
    return TEXT if kind == REAL and not _FITS_DECIMAL.fullmatch(value) else kind


def load_careful(cur: Any, path: Path, statement: Statement, types: Types) -> int:
    """Write a plain copy of the file, each row on one line after its line number, and LOAD DATA it."""
    with tempfile.TemporaryDirectory(prefix="sf1630-") as folder:  # 0700: rows never leave the owner
        plain = Path(folder) / "rows.csv"
        with open(plain, "w", encoding="utf-8", newline="") as out, read_csv(path) as (header, rows):
            # Every field quoted: LOAD DATA reads an unquoted NULL as NULL, a quoted one as text.
            writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(["line", *header])
            for line, row in rows:
                writer.writerow([line, *(v.replace("\r\n", "\n") for v in row)])
        cur.execute("SET @sf1630_bad = NULL")
        rows = cur.execute(load_sql(statement, True, False), (str(plain),))
        check_warnings(cur, path, types, numbered=True)
    return rows


def constants(keys: Keys, uuid: str) -> dict[str, str | None]:
    return {quote("authority"): keys.authority, quote("period"): keys.period, quote("source"): keys.source,
            quote(META[0][0]): uuid}
