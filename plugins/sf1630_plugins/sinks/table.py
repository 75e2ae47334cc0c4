"""What the table sinks (``sqlite``, ``postgres``, ``mariadb``) share: reading a delivered file,
typing its columns, and planning the table changes a new header asks for (issue #14).

Reading: UTF-8 (a byte order mark is skipped), ``;`` between fields, first line the header.
Blank lines are skipped; a row with another number of fields than the header fails the load,
naming its line. Nothing is held in memory but one row (or a block of rows), but for a file under
1 MiB, which the ``sqlite`` sink reads at once.

Types (issue #19): a column the file's source declares (``sources/declared.py``: the built-in
sources declare every column) has the declared type whatever the file's values, so two
municipalities' files give the same table in either order; a value that does not fit it fails the
load with its file, line and column. Declared ``text`` is TEXT (ids keep their leading zeros),
``integer`` INTEGER, ``decimal`` REAL, ``date`` DATE (``YYYY-MM-DD``). Only the other columns are
guessed, from the first ``SAMPLE_ROWS`` rows, and every row is then checked against the guess (a
value that does not fit makes the sink redo the load with the types the whole file needs): INTEGER
when every non-empty value is a whole number without leading zeros (``007`` stays text) that fits
64 bits; REAL when every non-empty value is such a number or a decimal with a '.' point; TEXT
otherwise, and when all values are empty. ``types = "text"`` makes every column TEXT. Empty fields
load as NULL. Each table also gets ``authority``, ``period`` and ``source`` (``sinks/current.py``),
``_file_transfer_uuid`` (the delivery it came from) and ``_line`` (its line in the file).

Changes (``schema = "evolve"``, the default): a column new in the header is added (nullable); a
column missing from the header stays and gets NULL; a column whose values no longer fit its
type is widened to TEXT; nothing is dropped. ``schema = "strict"`` refuses any change instead.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sf1630.api import Delivery, LoadError, SchemaChange, option
from sf1630_plugins.sinks.current import KEY_COLUMNS
from sf1630_plugins.sources.declared import declared_types

TEXT, INTEGER, REAL, DATE = "TEXT", "INTEGER", "REAL", "DATE"
DECLARED = {"text": TEXT, "integer": INTEGER, "decimal": REAL, "date": DATE}
UUID_COLUMN, LINE_COLUMN = "_file_transfer_uuid", "_line"
KEYS = tuple((name, TEXT) for name in KEY_COLUMNS)
META = ((UUID_COLUMN, TEXT), (LINE_COLUMN, INTEGER))  # after the row's own columns
RESERVED = tuple(name for name, _ in (*KEYS, *META))
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_REAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
SAMPLE_ROWS = 2000  # rows read in Python to guess types; every row is then checked by the database


@dataclass
class TableOptions:
    """Options the table sinks share."""

    table: str = option("", "table to load into; default: the source code from the file name (ky, dubu, ...), "
                            "else the sender's user name")
    types: Literal["infer", "text"] = option("infer", "column types: the source's declared types, and for "
                                                      "columns no source declares a guess from the values "
                                                      "(INTEGER/REAL/TEXT); or make every column TEXT")
    schema: Literal["evolve", "strict"] = option("evolve", "when a source's columns change: evolve the table "
                                                           "(add, widen, never drop) or refuse the load")
    on_repeat: Literal["keep", "replace"] = option(
        "keep", "a second delivery of the same authority, source and period: keep both (the <table>_current "
                "view shows the latest) or replace, deleting the earlier delivery's rows in the same transaction")


@dataclass
class Types:
    """A file's columns as a load types them: the type of each, and which ones its source declares."""

    header: list[str]
    kinds: list[str | None]
    declared: list[bool]


@dataclass
class Plan:
    """What a load does to its table: columns to add and widen, and the resulting type of each."""

    add: list[tuple[str, str]] = field(default_factory=list)
    widen: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # header name -> type loaded as
    names: dict[str, str] = field(default_factory=dict)  # header name -> column name in the table
    changes: tuple[SchemaChange, ...] = ()


def table_name(delivery: Delivery, options: Any) -> str:
    """The table a delivery goes into: the option, else the source code, else the sender."""
    raw = options.table or delivery.source or delivery.sender.split("_")[0] or "deliveries_unknown"
    return re.sub(r"[^a-z0-9_]", "_", raw.lower())


@contextlib.contextmanager
def read_csv(path: Path, reserved: tuple[str, ...] = RESERVED) -> Iterator[tuple[list[str], Iterator]]:
    """Open a delivered file: yields its checked header and an iterator of (line, row)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LoadError(f"{path.name}:1: unreadable header ({exc})") from None
        yield (header := check_header(header, path, reserved)), _rows(reader, header, path)


def _rows(reader: Any, header: list[str], path: Path) -> Iterator[tuple[int, list[str]]]:
    width = len(header)
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != width:
                raise LoadError(f"{path.name}:{line}: {len(row)} fields, the header has {width}; nothing was loaded")
            yield line, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LoadError(f"{path.name}:{line + 1}: unreadable ({exc}); nothing was loaded") from None


def check_header(header: list[str] | None, path: Path, reserved: tuple[str, ...]) -> list[str]:
    """The header, or LoadError when it is missing, has empty, doubled or reserved names."""
    if not header:
        raise LoadError(f"{path.name}: the file is empty; a header line is required")
    seen: set[str] = set()
    for number, name in enumerate(header, 1):
        if not name.strip() or "\x00" in name:
            raise LoadError(f"{path.name}:1: column {number} has no usable name")
        if name.lower() in seen:
            raise LoadError(f"{path.name}:1: column {name!r} appears twice")
        if name.lower() in reserved:
            raise LoadError(f"{path.name}:1: column name {name!r} is reserved for the sink")
        seen.add(name.lower())
    return header


def classify(value: str) -> str | None:
    """The narrowest type a value fits; None for an empty value."""
    if value == "":
        return None
    if _INTEGER.fullmatch(value):
        return INTEGER
    return REAL if _REAL.fullmatch(value) else TEXT


def merge(kind: str | None, other: str | None) -> str | None:
    """The narrowest type both fit."""
    if kind is None or kind == other:
        return other if kind is None else kind
    if other is None:
        return kind
    return REAL if {kind, other} == {INTEGER, REAL} else TEXT


def column_types(path: Path, source: str | None, mode: str = "infer") -> Types:
    """The file's header and the type of each column: declared by its source, else guessed."""
    declared = declared_types(source) if mode == "infer" else {}
    with read_csv(path) as (header, rows):
        kinds = [DECLARED.get(declared.get(name.lower(), ""), TEXT if mode == "text" else None) for name in header]
        is_declared = [name.lower() in declared for name in header]
        guess = [i for i, d in enumerate(is_declared) if not d] if mode == "infer" else []
        if guess:
            sample(rows, kinds, guess)
    return Types(header, kinds, is_declared)


def sample(rows: Iterator[tuple[int, list[str]]], kinds: list[str | None], guess: list[int],
           limit: int = SAMPLE_ROWS) -> None:
    """Guess the types of the columns ``guess`` from the first ``limit`` rows; the sinks check every row."""
    for count, (_, row) in enumerate(rows, 1):
        for i in guess:
            if kinds[i] != TEXT:
                kinds[i] = merge(kinds[i], classify(row[i]))
        if count >= limit:
            break


def sample_types(path: Path, mode: str = "infer", limit: int = SAMPLE_ROWS) -> tuple[list[str], list[str | None]]:
    """The header and the guessed types of the first ``limit`` rows, declarations aside."""
    types = column_types(path, None, mode)
    return types.header, types.kinds


def check_kinds(sampled: list[str | None], existing: dict[str, str], header: list[str],
                declared: list[bool] | None = None) -> list[str | None]:
    """Per column, the type every value must fit for the sampled plan to hold (TEXT: nothing to check).

    A declared column must fit its declared type (a misfit fails the load). A column already in
    the table needs only to keep fitting its type (issue #14: widening is all that can change); a
    new column must keep its sampled type.
    """
    result: list[str | None] = []
    for i, (name, kind) in enumerate(zip(header, sampled)):
        current = existing.get(name.lower())
        if current is None or (declared and declared[i]):
            result.append(kind)
        else:  # a column that no longer fits is widened to TEXT whatever else the file holds
            result.append(current if fits(current, kind) else TEXT)
    return result


def fits(existing: str, new: str | None) -> bool:
    """Whether values of type ``new`` load into a column of type ``existing`` unchanged."""
    return new is None or existing == TEXT or existing == new or (existing == REAL and new == INTEGER)


def misfit(path: Path, line: int, column: str, kind: str | None) -> LoadError:
    """The error of a value that does not fit its column's declared type (the value is not shown: issue #14)."""
    return LoadError(f"{path.name}:{line}: column {column!r}: the value is not {_A[kind or TEXT]}, the type its source "
                     "declares; correct the extract and send it again; nothing was loaded")


_A = {INTEGER: "a whole number", REAL: "a decimal number ('.' as point)", DATE: "a date (YYYY-MM-DD)", TEXT: "text"}


def plan(table: str, existing: list[tuple[str, str]], header: list[str], kinds: list[str | None],
         strict: bool) -> Plan:
    """Compare the table's columns (name, class) with the file's; LoadError in strict mode if they differ."""
    by_lower = {name.lower(): (name, kind) for name, kind in existing}
    result, changes = Plan(), []
    for name, kind in [*KEYS, *zip(header, kinds), *META]:
        if name.lower() not in by_lower:
            result.add.append((name, kind or TEXT))
            result.kinds[name], result.names[name] = kind or TEXT, name
            changes.append(SchemaChange(table, name, "added", kind or TEXT))
            continue
        column, current = by_lower[name.lower()]
        result.names[name], result.kinds[name] = column, current
        if not fits(current, kind):
            result.widen.append(column)
            result.kinds[name] = TEXT
            changes.append(SchemaChange(table, column, "widened", f"{current} -> TEXT"))
    wanted = {n.lower() for n in header} | set(RESERVED)
    changes += [SchemaChange(table, n, "missing") for n, _ in existing if n.lower() not in wanted]
    result.changes = tuple(changes)
    refused = [c for c in changes if c.column not in RESERVED]  # the sink's own columns come with an upgrade
    if strict and refused:
        listed = "; ".join(f"{c.column} {c.kind}" + (f" ({c.detail})" if c.detail else "") for c in refused)
        raise LoadError(f"table {table!r} does not match the file ({listed}) and schema = \"strict\"; "
                        "change the table, or set schema = \"evolve\"; nothing was loaded")
    return result
