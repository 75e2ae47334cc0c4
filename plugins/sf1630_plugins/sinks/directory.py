"""The ``directory`` sink: an archive of delivered files and their metadata for an external ETL.

Layout under ``folder``, one folder per delivery::

    <folder>/<table>/<FileTransferUUID>/<data file name>            the data, byte for byte
    <folder>/<table>/<FileTransferUUID>/<data file name>.metadata   the metadata (FileMetadata XML)
    <folder>/<table>/<FileTransferUUID>/delivery.json               the delivery as JSON, with "rows"

``<table>`` is the source code in lower case (``ky``), else the sender's first name part. A
delivery's folder is built under ``<folder>/.incoming/`` and renamed into place when complete, so
an ETL that sees the folder sees all of it; the existence of the folder is what makes a second
load of the same FileTransferUUID a duplicate. Files are 0600 and folders 0700 (issue #14).
Deliveries older than ``keep_days`` are removed at the next load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sf1630.documents.metadata import build_metadata
from sf1630 import hookimpl
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult, option
from sf1630.transport.privacy import private_dirs
from sf1630.transport.localfile import fsync_dir
from sf1630_plugins.sinks.table import read_csv, table_name

INCOMING = ".incoming"


@dataclass
class Options:
    """``[[receive.sinks]] type = "directory"`` options."""

    folder: Path = option(Path("sf1630-archive"), "root folder of the archive; created (0700) when missing")
    keep_days: int = option(30, "remove archived deliveries older than this many days at the next load; 0 keeps them")
    table: str = option("", "subfolder for deliveries; default: the source code (ky, dubu, ...), else the sender")


class DirectorySink:
    """Archives deliveries into a folder tree, atomically."""

    name = "directory"
    api_version = API_VERSION
    Options: TypeAlias = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        """Archive ``path`` with its metadata; a FileTransferUUID archived before adds nothing."""
        group = table_name(delivery, options)
        final = Path(options.folder) / group / _safe(delivery.file_transfer_uuid, "FileTransferUUID")
        if final.exists():
            return LoadResult(0, group, duplicate=True)
        root = _mkdirs(Path(options.folder))
        work = _mkdirs(root / INCOMING) / f"{final.name}.{uuidlib.uuid4().hex}"
        work.mkdir(mode=0o700)
        try:
            rows = _fill(work, delivery, path)
            _mkdirs(final.parent)
            try:
                os.rename(work, final)
            except OSError:
                if final.exists():  # another load of the same delivery won the race
                    shutil.rmtree(work)
                    return LoadResult(0, group, duplicate=True)
                raise
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        prune(Path(options.folder), options.keep_days)
        return LoadResult(rows, group)

    def check(self, options: Options, timeout: float = 10.0) -> str:
        """For ``sf1630 doctor``: the archive folder (or the folder it will be made in) is writable."""
        folder = Path(options.folder)
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise LoadError(f"directory sink: {existing} is not a folder this user may write in; "
                            f"create {folder} owned by the agent's user (mode 0700)")
        return f"{folder} writable" if existing == folder else f"{folder} not made yet; the first load makes it"


def _fill(work: Path, delivery: Delivery, path: Path) -> int:
    name = _safe(delivery.file_name, "file name")
    rows = _count_rows(path)
    with open(path, "rb") as src, _create(work / name) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    metadata = _metadata_bytes(delivery.metadata)
    if metadata is not None:
        with _create(work / f"{name}.metadata") as dst:
            dst.write(metadata)
    record = {f.name: getattr(delivery, f.name) for f in dataclasses.fields(delivery) if f.name != "metadata"}
    with _create(work / "delivery.json") as dst:
        dst.write(json.dumps({**record, "rows": rows, "archived_at": time.time()}, indent=2).encode())
    fsync_dir(work)
    return rows


def _count_rows(path: Path) -> int:
    # The same checks as the table sinks: a ragged or undecodable file is refused whole.
    with read_csv(path, reserved=()) as (_, rows):
        return sum(1 for _ in rows)


def _metadata_bytes(metadata: Any) -> bytes | None:
    if metadata is None:
        return None
    if isinstance(metadata, bytes):
        return metadata
    return build_metadata(metadata)


class _create:
    """A new owner-only file, fsync'd on close."""

    def __init__(self, path: Path) -> None:
        self.file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")

    def __enter__(self) -> Any:
        return self.file

    def __exit__(self, *exc: Any) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


def _mkdirs(folder: Path) -> Path:
    # Each level made is 0700 whatever the umask (issue #14), and synced into its parent: the
    # archive is the only copy once the delivery is loaded.
    return private_dirs(folder, durable=True)


def _safe(name: str, what: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name or name.startswith("."):
        raise LoadError(f"unsafe {what} {name!r}: it cannot name a file in the archive")
    return name


def prune(folder: Path, keep_days: int, now: float | None = None) -> list[Path]:
    """Remove archived deliveries older than ``keep_days`` (0 keeps all); returns what went."""
    if keep_days <= 0 or not folder.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    gone = []
    for record in folder.glob("*/*/delivery.json"):
        if record.stat().st_mtime < cutoff:
            shutil.rmtree(record.parent)
            gone.append(record.parent)
    return gone


SINK = DirectorySink()


@hookimpl
def sf1630_register_sinks(register):
    """Register the directory sink."""
    register(SINK)
