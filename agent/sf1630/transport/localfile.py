"""Durable local writes: a temporary file beside the target, fsync, rename, fsync the folder.

A download is durable before the remote copy is deleted (PROTOCOL rule 4), so a crash
never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sf1630.transport import blocking


class Staged:
    """``with Staged(target) as s:`` write to ``s.fd``, then ``await s.commit()``.

    Leaving the block without a commit (an error) removes the temporary file.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        self.fd = -1
        self.temp: Path | None = None
        self._done = False

    def __enter__(self) -> "Staged":
        folder = self.target.parent
        self.fd, name = tempfile.mkstemp(dir=folder, prefix=f".{self.target.name}.", suffix=".part")
        self.temp = Path(name)
        return self

    async def commit(self) -> None:
        """Make the file durable under its final name."""
        assert self.temp is not None
        fd, self.fd = self.fd, -1
        # One trip to a worker thread for the two syncs and the rename between them (issue #23).
        await blocking.call(_publish, fd, self.temp, self.target)
        self._done = True

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if not self._done and self.temp is not None:
            try:
                self.temp.unlink()
            except FileNotFoundError:
                pass


def _publish(fd: int, temp: Path, target: Path) -> None:
    """fsync and close ``fd`` (the file ``temp``), rename it to ``target``, fsync the folder."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)
    fsync_dir(target.parent)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """fsync a folder so a rename in it survives a crash (blocking: run it in a worker thread)."""
    _fsync_open(folder, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync one file or folder by its path (blocking: run it in a worker thread)."""
    _fsync_open(path, os.O_RDONLY | os.O_CLOEXEC)


def _fsync_open(path: str | os.PathLike[str], flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
