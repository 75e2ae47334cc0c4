"""The agent's local spool: extracts waiting to be sent, deliveries waiting to be loaded, quarantine.

Extracts hold personal data (CPR numbers), so every folder is created 0700 and every file 0600
(issue #14). A file is complete only once renamed into place after an fsync; a crash leaves at most
a ``.part`` file, which the next write replaces. A full or read-only disk is an ``SpoolError`` that
names the file (issue #5): the step is tried again on the next round.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

from sf1630.errors import Sf1630Error
from sf1630.transport.privacy import private_dirs
from sf1630.transport.localfile import fsync_dir

T = TypeVar("T")
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


class SpoolError(Sf1630Error):
    """The spool's disk refused a write (full, over quota, read-only)."""


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full or read-only disk under ``path`` into a SpoolError saying where and what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            raise
        raise SpoolError(f"cannot write {path}: {exc.strerror}; free space on that disk") from None


class Spool:
    """Paths and durable writes under the spool folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._accounts: dict[tuple[str, str], Path] = {}

    def outgoing(self, account: str, file_name: str) -> Path:
        """Where an extract for ``account`` waits to be uploaded."""
        return self._folder_of("out", account) / file_name

    def incoming(self, account: str, file_transfer_uuid: str, file_name: str) -> Path:
        """Where a downloaded delivery waits to be loaded."""
        return self._folder_of("in", account) / _safe(file_transfer_uuid) / file_name

    def _folder_of(self, kind: str, account: str) -> Path:
        # Built once per account: a path is asked for several times per transfer, and each join
        # of pathlib's parts showed in the sender's profile (issue #23).
        folder = self._accounts.get((kind, account))
        if folder is None:
            folder = self._accounts[(kind, account)] = self.root / kind / _safe(account)
        return folder

    def quarantine(self, account: str, file_transfer_uuid: str, file_name: str) -> Path:
        """Where a delivery whose load failed is kept until a load succeeds (issue #13)."""
        return self.root / "quarantine" / _safe(account) / _safe(file_transfer_uuid) / file_name

    def deliveries(self, kind: str, account: str) -> list[Path]:
        """The per-delivery folders of an account under ``in`` or ``quarantine`` (named by FileTransferUUID)."""
        folder = self.root / kind / _safe(account)
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def folder(self, path: Path) -> Path:
        """Create ``path``'s folder (and its parents under the spool) owner-only and durably; return it.

        Blocking when it makes a folder (it syncs the parent): call it in a worker thread.
        """
        # mkdir(parents=True) gives the parents the default mode; each level must be 0700 (issue #14).
        return path.parent if path.parent.is_dir() else private_dirs(path.parent, durable=True)

    def write(self, path: Path, writer: Callable[[BinaryIO], T]) -> tuple[T, int]:
        """Stream ``writer(out)`` into ``path`` durably (fsync, rename, fsync folder); returns its result and size."""
        with disk_errors(path):
            return self._write(path, writer)

    def _write(self, path: Path, writer: Callable[[BinaryIO], T]) -> tuple[T, int]:
        folder = self.folder(path)
        part = path.with_name(path.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as out:
                result = writer(out)
                out.flush()
                size = out.tell()
                os.fsync(out.fileno())
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, path)
        fsync_dir(folder)
        return result, size

    def move(self, src: Path, dst: Path) -> Path:
        """Move a spooled file (e.g. into quarantine) and make the move durable."""
        self.folder(dst)
        os.replace(src, dst)
        fsync_dir(dst.parent)
        self._prune(src.parent)
        return dst

    def discard(self, path: Path) -> None:
        """Remove a spooled file once it is no longer needed (delivered, loaded); prune empty folders."""
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def discard_tree(self, folder: Path) -> None:
        """Remove a per-delivery folder and what is in it."""
        shutil.rmtree(folder, ignore_errors=True)
        self._prune(folder.parent)

    def _prune(self, folder: Path) -> None:
        # Remove per-delivery folders left empty; stop at the spool's top-level folders
        # (kind/account). Compared by parts: Path.parents and relative_to cost more than the rest.
        root = self.root.parts
        while len(folder.parts) > len(root) + 2 and folder.parts[:len(root)] == root:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


@functools.lru_cache(maxsize=4096)  # a path is built per step; cleaning per character showed in profiles
def _safe(part: str) -> str:
    """A path component from an account name or UUID (never a path of its own)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in part)
    return cleaned.strip(".") or "_"
