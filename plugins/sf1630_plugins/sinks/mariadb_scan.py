"""How the ``mariadb`` sink reads a delivered file for its straight ``LOAD DATA``.

``scan``, before the load of a file that ``mariadb_feed`` does not send (quotes, a last field with a
test): the lines, the line ending, empty fields and quotes, which decide the statement. ``Numbers``,
while the server loads a file without quotes: the whole numbers at the end of each row. MariaDB
stores "1.5" into a BIGINT as 2, "1e3" as 1000 and " 5" or "+5" as 5 without a word; anything else
that is no whole number (a misplaced '-', a letter, a value out of range) is a warning it reports
itself. So a field made only of digits and '-' needs no test on the server, and in a file without
quotes the fields of a row are what lies between its ';'. The check deletes digits and '-' from each
block of whole lines (a C-speed ``translate``): every row must then end in as many ';' as it has
such fields, which one ``count`` tells. On the server the same test cost 0.95 s of 4.45 s of CPU per
1,000,000 AULA rows (issue #19); here 0.17 s, in the thread that feeds the file to the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
_NEWLINE_AS_SEPARATOR = bytes.maketrans(b"\n", b";")
_NUMBER_BYTES = b"0123456789-\r"  # '\r' too: it only ever comes before '\n' here (else the scan refuses)


@dataclass(frozen=True)
class Scanned:
    """What one read of a file found."""

    lines: int
    crlf: bool  # the first line ends in CRLF
    empty: bool  # a field may be empty
    quoted: bool  # a '"' somewhere: fields are not simply what lies between ';'
    word_null: bool = False  # "NULL" somewhere: LOAD DATA reads such an unquoted field as NULL


def scan(path: Path, chunk_size: int = CHUNK) -> Scanned | None:
    """Read ``path`` once; None when it has blank lines, lone carriage returns, line endings unlike
    the first line's or ends in ';' without a newline. A quoted ``""`` counts as empty, and so does a
    ``;;`` inside quotes (a false alarm only costs the variables)."""
    count, crlf, empty, quoted, word_null, tail, end, last = 0, None, False, False, False, b"\n", b"", b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            if chunk.endswith(b"\r"):
                chunk += f.read(1)
            crs, newlines = b"\r" in chunk, chunk.count(b"\n")
            if crlf is None and newlines:
                crlf = crs
            if odd_endings(chunk, newlines, crlf):
                return None
            data = tail + chunk
            if empty or _empty(data, crs):
                if b"\n\n" in data or crs and b"\n\r\n" in data:
                    return None
                empty = True
            quoted = quoted or b'"' in chunk
            seam = end + chunk[:3]  # "NULL" across two reads
            word_null = word_null or b"NULL" in chunk or b"NULL" in seam
            count, tail, end, last = count + newlines, chunk[-2:], (seam if len(chunk) < 3 else chunk)[-3:], chunk[-1:]
    if last == b";":  # LOAD DATA takes the empty last field of a last line without newline as missing
        return None
    return Scanned(count + (last != b"\n"), bool(crlf), empty, quoted, word_null)


def odd_endings(chunk: bytes, newlines: int, crlf: bool | None) -> bool:
    """Whether ``chunk`` (with its ``newlines``) has a lone carriage return or a line ending unlike the
    first line's (``crlf``; None before it is known): LOAD DATA would keep a carriage return in a
    row's last field."""
    return bool(crlf or b"\r" in chunk) and not (crlf and chunk.count(b"\r") == chunk.count(b"\r\n") == newlines)


def _empty(data: bytes, crs: bool) -> bool:
    """Whether ``data`` may hold an empty field or a blank line."""
    # With each newline read as ';', one search finds ";;", a line that starts or ends with ';'
    # and a blank line: a third of the time of searching for each.
    return (b";;" in data.translate(_NEWLINE_AS_SEPARATOR) or crs and (b";\r" in data or b"\n\r\n" in data)
            or b'"' in data and b'""' in data)


def first_misfit(path: Path, numbers: int, chunk_size: int = CHUNK) -> int | None:
    """The first line whose last ``numbers`` fields hold more than digits and '-', None if none;
    only for a file without quotes (``scan``)."""
    check = Numbers(numbers)
    with open(path, "rb") as f:
        while (chunk := f.read(chunk_size)) and check.misfit is None:
            check.feed(chunk)
    return check.close()


class Numbers:
    """Whether the last ``fields`` fields of every row after the header hold only digits and '-'."""

    def __init__(self, fields: int):
        self.end = b";" * fields + b"\n"
        self.rest: bytes | None = None  # the line not read whole yet, without its digits; None: in the header
        self.line = 2  # the line self.rest starts
        self.ended = True  # the bytes fed so far end in a newline (self.rest may be empty without it)
        self.misfit: int | None = None

    def feed(self, chunk: bytes) -> None:
        if self.misfit is not None:
            return
        if self.rest is None:
            start = chunk.find(b"\n") + 1
            if not start:
                return
            chunk, self.rest = chunk[start:], b""
        # Deleting first: the block to count in is half the chunk, and a line cut at the chunk's end
        # is carried over in its shorter form.
        data = self.rest + chunk.translate(None, _NUMBER_BYTES)
        cut = data.rfind(b"\n") + 1
        lines = data.count(b"\n", 0, cut)
        if data.count(self.end, 0, cut) != lines:
            self.misfit = self.line + self._first(data)
        self.line, self.rest = self.line + lines, data[cut:]
        self.ended = chunk[-1:] == b"\n" if chunk else self.ended

    def _first(self, data: bytes) -> int:
        """The index of the first line in ``data`` that does not pass (only read after a misfit)."""
        for index, line in enumerate(data.split(b"\n")):
            if not line.endswith(self.end[:-1]):
                return index
        raise AssertionError("a block failed without a failing line")

    def close(self) -> int | None:
        """The first line that failed, the last line (without a newline) included."""
        if self.rest is not None and not self.ended:
            self.feed(b"\n")
        return self.misfit
