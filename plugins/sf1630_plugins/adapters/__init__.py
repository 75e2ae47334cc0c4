"""Adapters: where a built-in source's rows come from, chosen with ``adapter = ...`` in its options.

- ``synthetic``: deterministic fake rows (demo, benchmarks, tests);
- ``sql``: a query against the source system's database (SQLite or PostgreSQL);
- ``directory``: the newest file the source system's own export wrote, sent as it is.

Every adapter has the same three functions, ``extract(job, source, options, out)``,
``delivered(job, source, options)`` and ``check(job, source, options)`` (``sf1630 doctor``: reach
what ``extract`` reads, read only), and writes the same format: UTF-8 CSV, ``;`` between fields,
a header line, ``\\n`` line ends, fields quoted only when they hold ``;``, ``"`` or a line break.
This module holds that writer and the header check the adapters share.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Protocol

from sf1630.api import ExtractError, ExtractResult, Job

DELIMITER = ";"
BLOCK_ROWS = 512  # rows per encode and write: big enough to be cheap, small enough to stream


class Adapter(Protocol):
    """What every adapter module provides."""

    def extract(self, job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
        """Stream the extract for ``job`` to ``out``."""

    def delivered(self, job: Job, source: Any, options: Any) -> None:
        """Tidy up after a SUCCESS receipt."""

    def check(self, job: Job, source: Any, options: Any) -> str:
        """For ``sf1630 doctor``: reach what ``extract`` reads, read only; say what was found."""


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``header`` and ``rows`` to ``out`` as UTF-8 ';' CSV, streaming; returns the data rows.

    Rows are written a block at a time, each block encoded and written once. A block of text
    fields none of which needs quoting is one join; any other goes through the ``csv`` module,
    which gives the same bytes for the plain ones.
    """
    text = io.StringIO()
    writer = csv.writer(text, delimiter=DELIMITER, lineterminator="\n")
    writer.writerow(header)
    count = 0
    rows = iter(rows)
    while block := list(itertools.islice(rows, BLOCK_ROWS)):
        lines = _plain_lines(block, len(header))
        if lines is None:
            writer.writerows(block)
        else:
            text.write(lines)
        count += len(block)
        out.write(text.getvalue().encode("utf-8"))
        text.seek(0)
        text.truncate()
    out.write(text.getvalue().encode("utf-8"))
    return count


def write_lines(out: BinaryIO, header: Sequence[str], lines: Iterable[str]) -> int:
    """Write ``header`` and ready-made CSV ``lines`` (each ending in ``\\n``) to ``out``; returns the lines.

    For rows made as text (the synthetic adapter): the same bytes as ``write_csv`` gives for rows of
    plain fields. Each block is checked; a line whose field would need quoting, or with too few or
    too many fields, is an ExtractError (a bug of whatever made it, never sent).
    """
    text = io.StringIO()
    csv.writer(text, delimiter=DELIMITER, lineterminator="\n").writerow(header)
    out.write(text.getvalue().encode("utf-8"))
    count = 0
    lines = iter(lines)
    while block := list(itertools.islice(lines, BLOCK_ROWS)):
        chunk = "".join(block)
        if not _plain(chunk, len(block), len(header)):
            raise ExtractError(f"rows {count + 1}-{count + len(block)}: a line does not have {len(header)} plain "
                               "fields (one needs quoting, or a field is missing or extra)")
        out.write(chunk.encode("utf-8"))
        count += len(block)
    return count


def _plain_lines(block: list[Sequence[Any]], width: int) -> str | None:
    """The block as CSV lines by joining, or None when a field is not text or needs quoting."""
    try:
        lines = "\n".join(map(DELIMITER.join, block)) + "\n"
    except TypeError:  # a number, date or None: csv formats it
        return None
    return lines if _plain(lines, len(block), width) else None


def _plain(lines: str, count: int, width: int) -> bool:
    """Whether ``lines`` are ``count`` lines of ``width`` fields none of which needs quoting."""
    return (width > 1 and lines.count(DELIMITER) == count * (width - 1) and lines.count("\n") == count
            and lines.endswith("\n") and '"' not in lines and "\r" not in lines)


def check_header(found: Sequence[str], expected: Sequence[str], origin: str, strict: bool) -> tuple[str, ...]:
    """Check an extract's header; ExtractError saying what differs. Returns the header as a tuple.

    ``strict`` asks for exactly the documented columns in their order. Otherwise any header of
    unique, non-empty names passes, so a source that gained columns still goes out (issue #14).
    """
    found = tuple(found)
    empty = [i + 1 for i, name in enumerate(found) if not name.strip()]
    if not found or empty:
        raise ExtractError(f"{origin}: the header has an empty column name (column {empty[:1] or [1]})")
    doubles = sorted({n for n in found if [x.lower() for x in found].count(n.lower()) > 1})
    if doubles:
        raise ExtractError(f"{origin}: the header names {', '.join(doubles)} more than once")
    if strict and found != tuple(expected):
        missing = [n for n in expected if n not in found]
        extra = [n for n in found if n not in expected]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "the order differs"
        raise ExtractError(f"{origin}: the header differs from the documented columns ({detail}); fix the "
                           "export or query, or set strict_header = false to send it anyway")
    return found
