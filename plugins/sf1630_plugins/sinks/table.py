"""What the table sinks (``sqlite``, ``postgres``) share: reading a delivered file, inferring
column types, and planning the table changes a new header asks for (issue #14).

Reading: UTF-8 (a byte order mark is skipped), ``;`` between fields, first line the header.
Blank lines are skipped; a row with another number of fields than the header fails the load,
naming its line. Types are guessed from the first ``SAMPLE_ROWS`` rows; the load then checks every
row against the guess, and a value that does not fit makes the sink redo the load with the types
the whole file needs. Nothing is held in memory but one row.

Types (``types = "infer"``): a column is INTEGER when every non-empty value is a whole number
without leading zeros (``007`` stays text: it is an id, not a number) that fits 64 bits; REAL
when every non-empty value is such a number or a decimal with a '.' point; TEXT otherwise, and
when all values are empty. ``types = "text"`` makes every column TEXT. Empty fields load as NULL.
Each table also gets ``_file_transfer_uuid`` (the delivery it came from) and ``_line`` (its line
in the file).

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

TEXT, INTEGER, REAL = "TEXT", "INTEGER", "REAL"
UUID_COLUMN, LINE_COLUMN = "_file_transfer_uuid", "_line"
META = ((UUID_COLUMN, TEXT), (LINE_COLUMN, INTEGER))
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_REAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
SAMPLE_ROWS = 2000  # rows read in Python to guess types; every row is then checked by the database


@dataclass
class TableOptions:
    """Options the table sinks share."""

    table: str = option("", "table to load into; default: the source code from the file name (ky, dubu, ...), "
                            "else the sender's user name")
    types: Literal["infer", "text"] = option("infer", "column types: infer INTEGER/REAL/TEXT from the values, "
                                                      "or make every column TEXT")
    schema: Literal["evolve", "strict"] = option("evolve", "when a source's columns change: evolve the table "
                                                           "(add, widen, never drop) or refuse the load")


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
def read_csv(path: Path, reserved: tuple[str, ...] = (UUID_COLUMN, LINE_COLUMN)) -> Iterator[tuple[list[str], Iterator]]:
    """Open a delivered file: yields its checked header and an iterator of (line, row)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LoadError(f"{path.name}:1: unreadable header ({exc})") from None
        yield check_header(header, path, reserved), _rows(reader, header, path)


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


def sample_types(path: Path, mode: str = "infer", limit: int = SAMPLE_ROWS) -> tuple[list[str], list[str | None]]:
    """The header and the types of the first ``limit`` rows: a guess the sinks then check on every row."""
    with read_csv(path) as (header, rows):
        kinds: list[str | None] = [None] * len(header)
        for count, (_, row) in enumerate(rows, 1):
            if mode == "text":
                break
            for i, value in enumerate(row):
                if kinds[i] != TEXT:
                    kinds[i] = merge(kinds[i], classify(value))
            if count >= limit:
                break
    return header, [TEXT if mode == "text" else k for k in kinds]


def check_kinds(sampled: list[str | None], existing: dict[str, str], header: list[str]) -> list[str | None]:
    """Per column, the type every value must fit for the sampled plan to hold (TEXT: nothing to check).

    A column already in the table needs only to keep fitting its type (issue #14: widening is
    all that can change); a new column must keep its sampled type.
    """
    result: list[str | None] = []
    for name, kind in zip(header, sampled):
        current = existing.get(name.lower())
        if current is None:
            result.append(kind)
        else:  # a column that no longer fits is widened to TEXT whatever else the file holds
            result.append(current if fits(current, kind) else TEXT)
    return result


def fits(existing: str, new: str | None) -> bool:
    """Whether values of type ``new`` load into a column of type ``existing`` unchanged."""
    return new is None or existing == TEXT or existing == new or (existing == REAL and new == INTEGER)


def plan(table: str, existing: list[tuple[str, str]], header: list[str], kinds: list[str | None],
         strict: bool) -> Plan:
    """Compare the table's columns (name, class) with the file's; LoadError in strict mode if they differ."""
    by_lower = {name.lower(): (name, kind) for name, kind in existing}
    result, changes = Plan(), []
    for name, kind in [*zip(header, kinds), *META]:
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
    wanted = {n.lower() for n in header} | {n for n, _ in META}
    changes += [SchemaChange(table, n, "missing") for n, _ in existing if n.lower() not in wanted]
    result.changes = tuple(changes)
    if strict and changes:
        listed = "; ".join(f"{c.column} {c.kind}" + (f" ({c.detail})" if c.detail else "") for c in changes)
        raise LoadError(f"table {table!r} does not match the file ({listed}) and schema = \"strict\"; "
                        "change the table, or set schema = \"evolve\"; nothing was loaded")
    return result
