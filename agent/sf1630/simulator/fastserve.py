"""The requests of a delivery served without asyncssh's per-request machinery (issue #23).

asyncssh serves every SFTP request through a coroutine per request, debug lines, a result type
table and three layers of answer building; a small file's delivery makes about 26 requests at the
simulator. Here OPEN, CLOSE, READ, WRITE, STAT, LSTAT, FSTAT, REMOVE, READDIR and posix-rename (SFTP
version 3, the only one the simulator speaks) call the server object directly and answer with one
packed header; the same server methods run, and errors are answered with the codes asyncssh uses.
Every other request, and every request while asyncssh's debug logging is on, goes through asyncssh.
A server method may return an awaitable (asyncssh's MaybeAwait); `hasattr(x, "__await__")` tells,
where inspect.isawaitable's ABC check cost more than some requests' own work.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import AsyncIterator
from typing import Any, Callable

from asyncssh.constants import DEFAULT_LANG
from asyncssh.packet import PacketDecodeError, SSHPacket, String, UInt32
from asyncssh.sftp import (FX_BAD_MESSAGE, FX_DIR_NOT_EMPTY, FX_FAILURE, FX_FILE_ALREADY_EXISTS,
                           FX_FILE_IS_A_DIRECTORY, FX_INVALID_FILENAME, FX_INVALID_PARAMETER, FX_LINK_LOOP,
                           FX_NO_SPACE_ON_FILESYSTEM, FX_NO_SUCH_FILE, FX_NOT_A_DIRECTORY, FX_OK, FX_OP_UNSUPPORTED,
                           FX_PERMISSION_DENIED, FX_QUOTA_EXCEEDED, FX_WRITE_PROTECT, FXP_ATTRS, FXP_CLOSE,
                           FXP_DATA, FXP_EXTENDED, FXP_FSTAT, FXP_HANDLE, FXP_LSTAT, FXP_NAME, FXP_OPEN, FXP_READ,
                           FXP_READDIR, FXP_REMOVE, FXP_STAT, FXP_STATUS, FXP_WRITE, SFTPAttrs, SFTPEOFError, SFTPError,
                           SFTPInvalidHandle, SFTPName, SFTPServer)

# OSError numbers as asyncssh's server answers them (anything else: FX_FAILURE).
_CODES = {errno.ENOENT: FX_NO_SUCH_FILE, errno.EACCES: FX_PERMISSION_DENIED, errno.EEXIST: FX_FILE_ALREADY_EXISTS,
          errno.EROFS: FX_WRITE_PROTECT, errno.ENOSPC: FX_NO_SPACE_ON_FILESYSTEM, errno.EDQUOT: FX_QUOTA_EXCEEDED,
          errno.ENOTEMPTY: FX_DIR_NOT_EMPTY, errno.ENOTDIR: FX_NOT_A_DIRECTORY,
          errno.ENAMETOOLONG: FX_INVALID_FILENAME, errno.EILSEQ: FX_INVALID_FILENAME, errno.ELOOP: FX_LINK_LOOP,
          errno.EINVAL: FX_INVALID_PARAMETER, errno.EISDIR: FX_FILE_IS_A_DIRECTORY}
_OK = UInt32(FX_OK) + String("") + String("")
_ALL_V3 = 0x0F                                  # size, uid/gid, permissions, atime/mtime
_ATTRS_V3 = struct.Struct(">IQIIIII")
POSIX_RENAME = b"posix-rename@openssh.com"


def encode_stat(st: os.stat_result) -> bytes:
    """SFTP v3 attributes of a stat result, as asyncssh's SFTPAttrs.from_local(st).encode(3)."""
    return _ATTRS_V3.pack(_ALL_V3, st.st_size, st.st_uid, st.st_gid, st.st_mode,
                          st.st_atime_ns // 1_000_000_000, st.st_mtime_ns // 1_000_000_000)


def _attrs(result: object) -> bytes:
    if isinstance(result, os.stat_result):
        return encode_stat(result)
    return result.encode(3)   # type: ignore[attr-defined]   # an SFTPAttrs


def error_answer(exc: Exception) -> bytes:
    """The FXP_STATUS body asyncssh's server sends for an exception raised while serving."""
    if isinstance(exc, PacketDecodeError):
        return UInt32(FX_BAD_MESSAGE) + String(str(exc)) + String(DEFAULT_LANG)
    if isinstance(exc, SFTPError):
        return exc.encode(3)
    if isinstance(exc, NotImplementedError):
        return UInt32(FX_OP_UNSUPPORTED) + String("Operation not supported") + String(DEFAULT_LANG)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return SFTPError(_CODES.get(exc.errno or 0, FX_FAILURE), reason).encode(3)
    return UInt32(FX_FAILURE) + String(f"Uncaught exception: {exc}") + String(DEFAULT_LANG)


class FastRequests:
    """Mixed into the server handler: serve() answers a request, or returns False for asyncssh."""

    _server: SFTPServer
    _file_handles: dict[bytes, object]
    _dir_handles: dict[bytes, AsyncIterator[SFTPName]]

    _get_next_handle: Callable[[], bytes]                # asyncssh's SFTPServerHandler
    answer: Callable[[int, int, bytes], None]            # the handler's: send or hold an answer

    async def serve(self, pkttype: int, pktid: int, packet: SSHPacket) -> bool:
        """Serve one request; False when it is not one served here (nothing read from `packet` then)."""
        if pkttype not in _SERVED or (pkttype == FXP_EXTENDED and _extension(packet) != POSIX_RENAME):
            return False
        if pkttype == FXP_READDIR and not hasattr(self._dir_handles.get(_peek_string(packet)), "take"):
            return False    # a folder opened by another server class: asyncssh reads it
        try:
            kind, body = await self._serve(pkttype, packet)
        except Exception as exc:   # as asyncssh: a failure is answered, the session goes on
            kind, body = FXP_STATUS, error_answer(exc)
        self.answer(kind, pktid, body)
        return True

    def _open_file(self, handle: bytes) -> Any:
        """The open file a READ, WRITE or FSTAT names; an unknown handle is answered as asyncssh does."""
        file_obj = self._file_handles.get(handle)
        if file_obj is None:
            raise SFTPInvalidHandle("Invalid file handle")
        return file_obj

    async def _serve(self, pkttype: int, packet: SSHPacket) -> tuple[int, bytes]:
        server: Any = self._server
        if pkttype == FXP_READ:
            file_obj = self._open_file(packet.get_string())
            offset, length = packet.get_uint64(), packet.get_uint32()
            data = server.read(file_obj, offset, length)
            if hasattr(data, "__await__"):
                data = await data
            if not data:
                raise SFTPEOFError
            return FXP_DATA, UInt32(len(data)) + data
        if pkttype == FXP_WRITE:
            file_obj = self._open_file(packet.get_string())
            offset, data = packet.get_uint64(), packet.get_string()
            result = server.write(file_obj, offset, data)
        elif pkttype == FXP_OPEN:
            path, pflags = packet.get_string(), packet.get_uint32()
            file_obj = server.open(path, pflags, SFTPAttrs.decode(packet, 3))
            if hasattr(file_obj, "__await__"):
                file_obj = await file_obj
            handle = self._get_next_handle()
            self._file_handles[handle] = file_obj
            return FXP_HANDLE, String(handle)
        elif pkttype == FXP_CLOSE:
            handle = packet.get_string()
            file_obj = self._file_handles.pop(handle, None)
            if file_obj is not None:
                result = server.close(file_obj)
            elif self._dir_handles.pop(handle, None) is None:
                raise SFTPInvalidHandle("Invalid file handle")
            else:
                result = None
        elif pkttype == FXP_REMOVE:
            result = server.remove(packet.get_string())
        elif pkttype == FXP_EXTENDED:
            packet.get_string()
            old, new = packet.get_string(), packet.get_string()
            result = server.posix_rename(old, new)
        elif pkttype == FXP_READDIR:
            listing: Any = self._dir_handles.get(packet.get_string())
            if listing is None:
                raise SFTPInvalidHandle("Invalid file handle")
            names = listing.take(MAX_NAMES)
            if not names:
                raise SFTPEOFError
            parts = [UInt32(len(names))]
            for name, st in names:
                parts += [String(name), String(await _longname(server, name, st)), encode_stat(st)]
            return FXP_NAME, b"".join(parts)
        else:   # FSTAT, STAT, LSTAT
            if pkttype == FXP_FSTAT:
                attrs = server.fstat(self._open_file(packet.get_string()))
            else:
                path = packet.get_string()
                attrs = server.stat(path) if pkttype == FXP_STAT else server.lstat(path)
            if hasattr(attrs, "__await__"):
                attrs = await attrs
            return FXP_ATTRS, _attrs(attrs)
        if hasattr(result, "__await__"):
            await result
        return FXP_STATUS, _OK


_SERVED = frozenset((FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE, FXP_FSTAT, FXP_STAT, FXP_LSTAT, FXP_REMOVE,
                     FXP_READDIR, FXP_EXTENDED))
MAX_NAMES = 128     # names per READDIR answer, as asyncssh


class _Attrs:
    """What asyncssh's format_longname reads of SFTPAttrs, taken from a stat result."""

    __slots__ = ("permissions", "nlink", "uid", "gid", "size", "mtime")

    def __init__(self, st: os.stat_result):
        self.permissions, self.nlink, self.uid, self.gid = st.st_mode, st.st_nlink, st.st_uid, st.st_gid
        self.size, self.mtime = st.st_size, st.st_mtime_ns // 1_000_000_000


class _Name:
    __slots__ = ("filename", "longname", "attrs")

    def __init__(self, filename: bytes, attrs: _Attrs):
        self.filename, self.longname, self.attrs = filename, b"", attrs


async def _longname(server: Any, name: bytes, st: os.stat_result) -> bytes:
    """The `ls -l` line of a name, by the server's format_longname (asyncssh's unless overridden)."""
    entry = _Name(name, _Attrs(st))
    result = server.format_longname(entry)
    if hasattr(result, "__await__"):
        await result
    return entry.longname


def _peek_string(packet: SSHPacket) -> bytes:
    """The request's next string, the packet left where it was."""
    start = packet._idx
    try:
        return packet.get_string()
    except PacketDecodeError:
        return b""
    finally:
        packet._idx = start


def _extension(packet: SSHPacket) -> bytes:
    """The name of an extended request, the packet left where it was."""
    return _peek_string(packet)
