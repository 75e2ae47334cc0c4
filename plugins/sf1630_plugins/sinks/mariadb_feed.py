"""How the ``mariadb`` sink hands a file without quotes to ``LOAD DATA LOCAL``: through a pipe, read as it loads.

Deciding the statement used to take a read of the whole file before the load (0.17 s of a 3.2 s
load of 1,000,000 rows, issue #19), mostly to learn whether a field was empty: an empty field must
load as NULL, and only user variables per column could say so. Now only ``glance`` runs first, in
a thread while the load connects: whether there is a '"' anywhere (found at memchr's speed) and how
the first line ends. A file without quotes is then sent by a ``Feeder`` thread while the server
loads: each empty field is written as the word ``NULL``, which ``LOAD DATA`` with ``ENCLOSED BY``
reads as NULL, so every field loads straight into its column whether or not some are empty (a field
that is the word NULL in the file is sent quoted: text, as the other sinks load it). On the
way it counts the lines, checks the whole numbers at the end of each row (``mariadb_scan``) and
stops at a blank line, a lone carriage return or a line ending unlike the first line's, which the
careful path then loads.

The driver opens the file by the name the server asks for; ``/proc/self/fd/N`` names the pipe's
reading end (Linux). Closing that end after the statement makes a feeder still writing fail at
once, so it never outlives the load.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from sf1630_plugins.sinks.mariadb_scan import CHUNK, Numbers, odd_endings

PIPE_SIZE = 1 << 20  # a 1 MiB pipe: the server reads on while the feeder holds the interpreter
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_NEWLINE_AS_SEPARATOR = bytes.maketrans(b"\n", b";")
_LITERAL_NULL = re.compile(rb"(?:^|(?<=[;\n]))NULL(?=;|\r?\n)")  # a whole field, in a block of whole lines


@dataclass(frozen=True)
class Glance:
    """What decides the statement, read before the load."""

    quoted: bool  # a '"' somewhere: fields are not simply what lies between ';'
    crlf: bool  # the first line ends in CRLF


def glance(path: Path, chunk_size: int = CHUNK) -> Glance:
    """Whether ``path`` has a '"' and whether its first line ends in CRLF (0.015 s per 1,000,000 rows)."""
    quoted, crlf, before = False, None, b""
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            if crlf is None and (end := chunk.find(b"\n")) >= 0:
                crlf = (chunk[end - 1:end] if end else before) == b"\r"
            quoted = quoted or b'"' in chunk
            if quoted and crlf is not None:
                break
            before = chunk[-1:]
    return Glance(quoted, bool(crlf))


def streams() -> bool:
    """Whether a pipe can be opened by name here."""
    return os.path.isdir("/proc/self/fd")


def with_nulls(block: bytes, crlf: bool) -> bytes | None:
    """``block`` (whole lines, not the header) with each empty field written ``NULL`` and each field
    that is the word NULL written ``"NULL"``; None when it has a blank line."""
    if block[:1] == b"\n" or crlf and block[:2] == b"\r\n":
        return None
    if b"NULL" in block:  # a field that is the word itself stays text, as in the other sinks: quoted
        block = _LITERAL_NULL.sub(b'"NULL"', block)
    if b";;" not in block.translate(_NEWLINE_AS_SEPARATOR, b"\r" if crlf else b""):
        return block  # the common case: one translate and one search
    if b"\n\n" in block or crlf and b"\n\r\n" in block:
        return None
    # Twice: a run of three or more ';' keeps every other pair after the first pass.
    block = block.replace(b";;", b";NULL;").replace(b";;", b";NULL;")
    block = block.replace(b"\n;", b"\nNULL;").replace(b";\n", b";NULL\n")
    if crlf:
        block = block.replace(b";\r\n", b";NULL\r\n")
    return b"NULL" + block if block[:1] == b";" else block


class Feeder:
    """Sends ``path`` through a pipe named ``name``, with empty fields as NULL, in a thread of its own.

    After the load (``close``): ``lines`` the file's lines; ``misfit`` the first line whose last
    ``numbers`` fields are not all digits and '-'; ``refused`` why the file must take the careful
    path. A misfit or a refusal ends the feed early: the load that follows is rolled back.
    """

    def __init__(self, path: Path, numbers: int, crlf: bool, chunk_size: int = CHUNK):
        self.lines = 0
        self.misfit: int | None = None
        self.refused: str | None = None
        self._error: BaseException | None = None
        self._read, self._write = os.pipe()
        with contextlib.suppress(OSError):  # a smaller pipe only means more switches
            fcntl.fcntl(self._write, F_SETPIPE_SZ, PIPE_SIZE)
        self.name = f"/proc/self/fd/{self._read}"
        self._thread = threading.Thread(target=self._run, args=(path, numbers, crlf, chunk_size),
                                        name="sf1630-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """End the feed (after the statement, whatever it did) and raise what the feed ran into."""
        os.close(self._read)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self, path: Path, numbers: int, crlf: bool, chunk_size: int) -> None:
        try:
            self._feed(path, numbers, crlf, chunk_size)
        except BrokenPipeError:
            pass  # the statement ended before the file did; its outcome tells why
        except BaseException as exc:  # raised by close()
            self._error = exc
        finally:
            os.close(self._write)

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._write, view):]

    def _feed(self, path: Path, numbers: int, crlf: bool, chunk_size: int) -> None:
        check = Numbers(numbers) if numbers else None
        count, last, rest, header = 0, b"\n", b"", True
        with open(path, "rb") as f:
            while chunk := f.read(chunk_size):
                if chunk.endswith(b"\r"):
                    chunk += f.read(1)
                newlines = chunk.count(b"\n")
                if odd_endings(chunk, newlines, crlf):
                    self.refused = "line endings other than the first line's, or lone carriage returns"
                    return
                count, last = count + newlines, chunk[-1:]
                data = rest + chunk
                cut = data.rfind(b"\n") + 1  # whole lines only: an empty field may straddle two chunks
                block, rest = data[:cut], data[cut:]
                if header and cut:
                    end = block.find(b"\n") + 1
                    self._send(block[:end])
                    block, header = block[end:], False
                if block and not self._lines(block, crlf):
                    return  # before the numbers: a blank line reads as a misfit there
                if check is not None:
                    check.feed(chunk)
                    if check.misfit is not None:
                        self.misfit = check.misfit
                        return
        if check is not None and (misfit := check.close()) is not None:
            self.misfit = misfit
            return
        if rest and header:  # the header alone, without a newline
            self._send(rest)
        elif rest and not self._lines(rest + (b"\r\n" if crlf else b"\n"), crlf):
            return  # (the last line without a newline gets one: its empty last field is then NULL, not missing)
        self.lines = count + (last != b"\n")

    def _lines(self, block: bytes, crlf: bool) -> bool:
        rewritten = with_nulls(block, crlf)
        if rewritten is None:
            self.refused = "blank lines"
            return False
        self._send(rewritten)
        return True
