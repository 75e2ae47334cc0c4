"""The ``directory`` adapter: send the file the source system's own export wrote.

``folder`` may hold the placeholders ``{municipality}``, ``{authority_id}`` and ``{source}``.
Of the files matching ``pattern`` there that were last changed at least ``settle_seconds`` before
the extract's timestamp, the newest is sent as it is (a UTF-8 byte order mark is dropped), after
its header and every row's field count are checked and its text is checked to be UTF-8.

After a SUCCESS receipt, ``delivered`` moves that file and any older matching ones (exports the
sent one replaced) into ``sent_folder`` under ``folder``. Files written after the extract stay for
the next one. The choice depends only on the job's timestamp, so it holds across restarts.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sf1630.api import ExtractError, ExtractResult, Job
from sf1630_plugins.adapters import DELIMITER, check_header


def extract(job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    """Stream the newest settled export file to ``out``."""
    folder = export_folder(job, source, options)
    files = candidates(job, options, folder)
    if not files:
        raise ExtractError(f"{source.name} directory adapter: no file matching {options.pattern!r} in "
                           f"{folder} changed {options.settle_seconds:g}s or more before "
                           f"{job.created:%Y-%m-%d %H:%M:%S}; has the export run?")
    return _copy(files[-1], source, options, out)


def delivered(job: Job, source: Any, options: Any) -> None:
    """Move the sent export file, and older ones, into ``sent_folder``."""
    folder = export_folder(job, source, options)
    target = folder / options.sent_folder
    target.mkdir(mode=0o700, exist_ok=True)
    stamp = f"{job.created:%Y%m%d%H%M%S}"
    for path in candidates(job, options, folder):
        destination = target / path.name
        if destination.exists():
            destination = target / f"{path.stem}-{stamp}{path.suffix}"
        os.replace(path, destination)


def check(job: Job, source: Any, options: Any) -> str:
    """The export folder exists, can be read, and sent files can be moved out of it."""
    folder = export_folder(job, source, options)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ExtractError(f"{source.name} directory adapter: export folder {folder} cannot be read by this user")
    sent = folder / options.sent_folder
    writable = sent if sent.is_dir() else folder
    if not os.access(writable, os.W_OK | os.X_OK):
        raise ExtractError(f"{source.name} directory adapter: sent files cannot be moved into {sent}: "
                           f"{writable} is not writable by this user")
    settled = candidates(job, options, folder)
    return f"export folder {folder} readable, {len(settled)} settled file(s) matching {options.pattern!r}"


def export_folder(job: Job, source: Any, options: Any) -> Path:
    """The export folder for this job, placeholders filled in."""
    if options.folder is None:
        raise ExtractError(f"{source.name} directory adapter: set 'folder' in the source's options")
    m = job.municipality
    text = str(options.folder).format(municipality=m.key, authority_id=m.authority_id, source=job.source)
    folder = Path(text)
    if not folder.is_dir():
        raise ExtractError(f"{source.name} directory adapter: export folder {folder} does not exist")
    return folder


def candidates(job: Job, options: Any, folder: Path) -> list[Path]:
    """Settled export files, oldest first."""
    cutoff = job.created.timestamp() - options.settle_seconds
    found = []
    for path in folder.glob(options.pattern):
        stat = path.stat()
        if path.is_file() and stat.st_mtime <= cutoff:
            found.append((stat.st_mtime, path.name, path))
    return [path for _, _, path in sorted(found)]


def _copy(path: Path, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    origin = str(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = _passing(f, out, origin)
        reader = csv.reader(lines, delimiter=DELIMITER)
        header = check_header(next(reader, ()), source.header, origin, options.strict_header)
        count = 0
        for row in reader:
            if not row:
                continue  # a blank line holds no row
            if len(row) != len(header):
                raise ExtractError(f"{origin}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
            count += 1
    return ExtractResult(count, header)


def _passing(f: Any, out: BinaryIO, origin: str) -> Iterator[str]:
    # Each line goes to ``out`` as the reader takes it: one pass, never the whole file in memory.
    number = 0
    try:
        for number, line in enumerate(f, 1):
            out.write(line.encode("utf-8"))
            yield line
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{origin}:{number + 1}: not UTF-8 ({exc.reason}); export as UTF-8") from None
