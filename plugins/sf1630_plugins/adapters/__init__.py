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
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Protocol

from sf1630.api import ExtractError, ExtractResult, Job

DELIMITER = ";"


class Adapter(Protocol):
    """What every adapter module provides."""

    def extract(self, job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
        """Stream the extract for ``job`` to ``out``."""

    def delivered(self, job: Job, source: Any, options: Any) -> None:
        """Tidy up after a SUCCESS receipt."""

    def check(self, job: Job, source: Any, options: Any) -> str:
        """For ``sf1630 doctor``: reach what ``extract`` reads, read only; say what was found."""


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``header`` and ``rows`` to ``out`` as UTF-8 ';' CSV, streaming; returns the data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text, delimiter=DELIMITER, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        text.flush()
    finally:
        text.detach()  # leave ``out`` open: the caller owns it
    return count


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
