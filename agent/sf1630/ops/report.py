"""Plain text tables for the commands' results (stdout), generated before they are printed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sf1630.api import Transfer
from sf1630.core.steps import RECEIVE_OPEN, SEND_OPEN

UNFINISHED = frozenset(SEND_OPEN) | frozenset(RECEIVE_OPEN) - {"quarantined"}


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, right: Sequence[int] = ()) -> list[str]:
    """Lines of a table with columns padded to their widest cell; ``right`` aligns those columns right."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        padded = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(padded).rstrip()

    return [line(cells[0])] + [line(r) for r in cells[1:]]


def transfer_rows(transfers: Iterable[Transfer]) -> list[list[object]]:
    """One row per transfer: municipality, source, period, state, file, rows, note."""
    rows = []
    for t in transfers:
        note = t.error or ""
        if t.state in UNFINISHED:
            note = "unfinished: the next run resumes it" + (f"; {note}" if note else "")
        if t.details.get("resend_reason"):
            note = f"resend: {t.details['resend_reason']}" + (f"; {note}" if note else "")
        rows.append([t.municipality or "", t.source or "", getattr(t, "period", None) or "", t.state,
                     t.file_name, t.rows if t.rows is not None else "", note])
    return rows


TRANSFER_HEADER = ("MUNICIPALITY", "SOURCE", "PERIOD", "STATE", "FILE", "ROWS", "NOTE")


def transfer_table(transfers: Iterable[Transfer]) -> list[str]:
    """The table ``sf1630 send`` and ``receive`` print."""
    return table(TRANSFER_HEADER, transfer_rows(transfers), right=(5,))
