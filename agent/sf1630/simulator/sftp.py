"""The SFTP side of the simulator: each user confined to `<root>/<user>/`, locked names refused.

A session starts in the user's folder, so `OUT/x`, `/OUT/x` and `IN/x` all name the same files
(issue #12). `..` may not climb out of the folder, and a symbolic link may not lead out of it.
`IN/` is written by the platform only: users read and delete there. Names the router is processing
refuse writes, renames and deletes with "permission denied" (PROTOCOL.md rule 2).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import asyncssh
from asyncssh.misc import MaybeAwait

log = logging.getLogger("sf1630.simulator")
_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND
OWNER_ONLY = 0o700  # extracts hold CPR numbers: a client's mode never opens a file to group or others


class Gate(Protocol):
    """What the SFTP side tells and asks the router (implemented by router.Router)."""

    def locked(self, user: str, name: str) -> bool:
        """Is OUT/<name> of `user` being processed?"""

    def opened(self, user: str, out_name: str | None, inode: tuple[int, int]) -> None:
        """A file was opened for writing; `out_name` is its name when it lies directly in OUT/."""

    def closed(self, user: str, out_name: str | None, inode: tuple[int, int]) -> None:
        """A file opened for writing was closed."""

    def renamed(self, user: str, out_name: str) -> None:
        """A file was renamed into OUT/<out_name>."""


@dataclass
class _Target:
    local: bytes
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "/".join(self.parts) or "/"

    @property
    def out_name(self) -> str | None:
        """The file name when the target is directly in OUT/, else None."""
        return self.parts[1] if len(self.parts) == 2 and self.parts[0] == "OUT" else None

    @property
    def in_inbox(self) -> bool:
        return len(self.parts) >= 2 and self.parts[0] == "IN"

    @property
    def is_top_folder(self) -> bool:
        return self.parts in (("IN",), ("OUT",), ())


class _OpenFile:
    __slots__ = ("fd", "out_name", "inode")

    def __init__(self, fd: int, out_name: str | None, inode: tuple[int, int] | None):
        self.fd, self.out_name, self.inode = fd, out_name, inode   # inode: set when open for writing


class Listing(AsyncIterator[asyncssh.SFTPName]):
    """An open folder: asyncssh's READDIR takes SFTPNames from it, fastserve.py (name, stat) pairs.
    The folder is listed at the first read, as asyncssh's own scandir generator does."""

    def __init__(self, files: UserFiles, path: bytes):
        self._files, self._path = files, path
        self._names: list[tuple[bytes, os.stat_result]] | None = None
        self._pos = 0

    def take(self, count: int) -> list[tuple[bytes, os.stat_result]]:
        """Up to `count` names not read yet."""
        if self._names is None:
            self._names = self._files.listing(self._path)
        taken = self._names[self._pos:self._pos + count]
        self._pos += len(taken)
        return taken

    async def __anext__(self) -> asyncssh.SFTPName:
        taken = self.take(1)
        if not taken:
            raise StopAsyncIteration
        name, st = taken[0]
        return asyncssh.SFTPName(name, attrs=asyncssh.SFTPAttrs.from_local(st))


def _denied(message: str) -> asyncssh.SFTPPermissionDenied:
    return asyncssh.SFTPPermissionDenied(message)


def _busy(user: str, path: str, action: str) -> asyncssh.SFTPPermissionDenied:
    """Refusal of a locked name (rule 2): permission denied, logged, no receipt."""
    log.info("refused to %s %s of %s: it is being processed", action, path, user, extra={"file": path, "user": user})
    return _denied(f"{path} is being processed by the platform; try again after its receipt")


class UserFiles(asyncssh.SFTPServer):
    """The SFTP view of one user's folder."""

    def __init__(self, chan: asyncssh.SSHServerChannel, home: str, user: str, gate: Gate):
        super().__init__(chan)
        self._home = os.fsencode(os.path.realpath(home))
        self._user, self._gate = user, gate

    # -- paths ----------------------------------------------------------------------------------
    def _resolve(self, path: bytes) -> _Target:
        try:
            text = path.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPInvalidParameter("file names must be UTF-8") from None
        parts: list[str] = []
        for part in text.split("/"):
            if part == "..":
                if not parts:
                    raise _denied(f"{text}: '..' would leave your folder")
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        local = self._home + b"/" + "/".join(parts).encode("utf-8") if parts else self._home
        if self._escapes(local, len(parts)):
            raise _denied(f"{text}: leads out of your folder (symbolic link)")
        return _Target(local, tuple(parts))

    def _escapes(self, local: bytes, depth: int) -> bool:
        """Does a symbolic link below the home folder lead out of it? (lstat per level, not realpath)"""
        path, rest = self._home, local[len(self._home) + 1:].split(b"/") if depth else []
        for part in rest:
            path += b"/" + part
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return False          # nothing further exists, so no link to follow
            if stat.S_ISLNK(mode):
                real = os.path.realpath(local)
                return real != self._home and not real.startswith(self._home + b"/")
        return False

    def map_path(self, path: bytes) -> bytes:
        return self._resolve(path).local

    def reverse_map_path(self, path: bytes) -> bytes:
        if path == self._home:
            return b"/"
        if path.startswith(self._home + b"/"):
            return path[len(self._home):]
        raise asyncssh.SFTPNoSuchFile("File not found")

    def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        return Listing(self, path)

    def listing(self, path: bytes) -> list[tuple[bytes, os.stat_result]]:
        """A folder's names with their lstat, `.` and `..` first (`..` of the top is itself)."""
        target = self._resolve(path)
        parent = os.path.dirname(target.local) if target.parts else target.local
        names = [(b".", os.stat(target.local)), (b"..", os.stat(parent))]
        with os.scandir(target.local) as entries:
            names += [(os.fsencode(entry.name), entry.stat(follow_symlinks=False)) for entry in entries]
        return names

    def _check_write(self, target: _Target, action: str) -> None:
        if target.in_inbox:
            raise _denied(f"{target.text}: IN/ is written by the platform only; read and delete there")
        if target.is_top_folder:
            raise _denied(f"{target.text}: cannot {action} your IN/ or OUT/ folder")
        name = target.out_name
        if name is not None and self._gate.locked(self._user, name):
            raise _busy(self._user, target.text, action)

    # -- files ----------------------------------------------------------------------------------
    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> MaybeAwait[object]:
        target = self._resolve(path)
        writing = bool(pflags & _WRITE_FLAGS)
        if writing:
            self._check_write(target, "write")
        flags = os.O_RDWR if pflags & asyncssh.FXF_READ and writing else os.O_WRONLY if writing else os.O_RDONLY
        for sftp_flag, os_flag in ((asyncssh.FXF_APPEND, os.O_APPEND), (asyncssh.FXF_CREAT, os.O_CREAT),
                                   (asyncssh.FXF_TRUNC, os.O_TRUNC), (asyncssh.FXF_EXCL, os.O_EXCL)):
            if pflags & sftp_flag:
                flags |= os_flag
        mode = 0o600 if attrs.permissions is None else attrs.permissions & OWNER_ONLY
        fd = os.open(target.local, flags | os.O_CLOEXEC, mode)
        inode = None
        if writing:
            st = os.fstat(fd)
            inode = (st.st_dev, st.st_ino)
            self._gate.opened(self._user, target.out_name, inode)
        return _OpenFile(fd, target.out_name, inode)

    def read(self, file_obj: object, offset: int, size: int) -> MaybeAwait[bytes]:
        return os.pread(file_obj.fd, size, offset)  # type: ignore[attr-defined]

    def write(self, file_obj: object, offset: int, data: bytes) -> MaybeAwait[int]:
        handle: _OpenFile = file_obj  # type: ignore[assignment]
        if handle.out_name is not None and self._gate.locked(self._user, handle.out_name):
            raise _busy(self._user, f"OUT/{handle.out_name}", "write")
        view = memoryview(data)
        while view:
            written = os.pwrite(handle.fd, view, offset)
            view, offset = view[written:], offset + written
        return len(data)

    def close(self, file_obj: object) -> MaybeAwait[None]:
        handle: _OpenFile = file_obj  # type: ignore[assignment]
        os.close(handle.fd)
        if handle.inode is not None:
            self._gate.closed(self._user, handle.out_name, handle.inode)
        return None

    def fstat(self, file_obj: object) -> MaybeAwait[os.stat_result]:
        return os.fstat(file_obj.fd)  # type: ignore[attr-defined]

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> MaybeAwait[None]:
        handle: _OpenFile = file_obj  # type: ignore[assignment]
        if attrs.size is not None:
            if handle.out_name is not None and self._gate.locked(self._user, handle.out_name):
                raise _busy(self._user, f"OUT/{handle.out_name}", "truncate")
            os.ftruncate(handle.fd, attrs.size)
        if attrs.permissions is not None:
            os.fchmod(handle.fd, attrs.permissions & OWNER_ONLY)
        if attrs.atime is not None and attrs.mtime is not None:
            os.utime(handle.fd, (attrs.atime, attrs.mtime))
        return None

    def fsync(self, file_obj: object) -> MaybeAwait[None]:
        os.fsync(file_obj.fd)  # type: ignore[attr-defined]
        return None

    # -- names ----------------------------------------------------------------------------------
    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> MaybeAwait[None]:
        target = self._resolve(path)
        if attrs.size is not None:
            self._check_write(target, "truncate")
            os.truncate(target.local, attrs.size)
        if attrs.permissions is not None:
            os.chmod(target.local, attrs.permissions & OWNER_ONLY)
        if attrs.atime is not None and attrs.mtime is not None:
            os.utime(target.local, (attrs.atime, attrs.mtime))
        return None

    lsetstat = setstat

    def remove(self, path: bytes) -> MaybeAwait[None]:
        target = self._resolve(path)
        name = target.out_name
        if target.is_top_folder:
            raise _denied(f"{target.text}: cannot delete your IN/ or OUT/ folder")
        if name is not None and self._gate.locked(self._user, name):
            raise _busy(self._user, target.text, "delete")
        os.remove(target.local)
        return None

    def _rename(self, oldpath: bytes, newpath: bytes, replace: bool) -> None:
        old, new = self._resolve(oldpath), self._resolve(newpath)
        self._check_write(new, "rename into")
        if old.is_top_folder:
            raise _denied(f"{old.text}: cannot rename your IN/ or OUT/ folder")
        if old.out_name is not None and self._gate.locked(self._user, old.out_name):
            raise _busy(self._user, old.text, "rename")
        if not replace and os.path.lexists(new.local):
            raise asyncssh.SFTPFailure(f"{new.text} already exists")
        os.replace(old.local, new.local)
        if new.out_name is not None:
            self._gate.renamed(self._user, new.out_name)

    def rename(self, oldpath: bytes, newpath: bytes) -> MaybeAwait[None]:
        self._rename(oldpath, newpath, replace=False)
        return None

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> MaybeAwait[None]:
        self._rename(oldpath, newpath, replace=True)
        return None

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> MaybeAwait[None]:
        target = self._resolve(path)
        self._check_write(target, "create")
        os.mkdir(target.local, 0o700)
        return None

    def rmdir(self, path: bytes) -> MaybeAwait[None]:
        target = self._resolve(path)
        self._check_write(target, "remove")
        os.rmdir(target.local)
        return None

    def symlink(self, oldpath: bytes, newpath: bytes) -> MaybeAwait[None]:
        raise _denied("symbolic links are not supported on this server")

    def link(self, oldpath: bytes, newpath: bytes) -> MaybeAwait[None]:
        raise _denied("hard links are not supported on this server")
