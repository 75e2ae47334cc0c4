"""Translate asyncssh and socket failures into the agent's transport errors.

Permission denied -> RemoteRefused (a locked name, PROTOCOL rule 2, keeps the server's text);
no such file -> RemoteMissing; connection lost, timeouts and other SFTP failures ->
TransportError (worth a retry). A full or read-only local disk during a download is said as such
and not retried (issue #5); other local file errors are left as they are.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import asyncssh

from sf1630.errors import RemoteMissing, RemoteRefused, Sf1630Error, TransportError

_MISSING = (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)
_REFUSED = (asyncssh.SFTPPermissionDenied, asyncssh.SFTPWriteProtect, asyncssh.SFTPLockConflict,
            asyncssh.SFTPFileAlreadyExists)
_NETWORK = (asyncssh.Error, ConnectionError, EOFError, BrokenPipeError)
_LOCAL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


def translate(exc: BaseException, what: str) -> Sf1630Error | None:
    """The agent error for ``exc`` raised while doing ``what``; None if it is not a remote failure."""
    if isinstance(exc, Sf1630Error):
        return exc
    if isinstance(exc, _MISSING):
        return RemoteMissing(f"{what}: no such file on the server ({exc.reason})")
    if isinstance(exc, _REFUSED):
        return RemoteRefused(f"{what}: the server refused: {exc.reason}")
    if isinstance(exc, asyncssh.SFTPConnectionLost):
        return TransportError(f"{what}: connection lost ({exc.reason}); it is retried on a new connection")
    if isinstance(exc, asyncssh.SFTPError):
        return TransportError(f"{what}: the server failed ({exc.reason}, SFTP status {exc.code})")
    if isinstance(exc, asyncssh.DisconnectError):
        return TransportError(f"{what}: the server disconnected ({exc.reason})")
    if isinstance(exc, OSError) and exc.errno in _LOCAL_DISK:  # our disk, not the network: no retry helps now
        return Sf1630Error(f"{what}: cannot write the local copy ({exc.strerror}); free space on the agent's "
                           "disk")
    # Said as it was: nothing listens there (issue #17).
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        why = getattr(exc, "strerror", None) or exc
        return TransportError(f"{what}: connection refused ({why}): nothing listens there; "
                              "check the platform's address and that it is up")
    if isinstance(exc, _NETWORK):
        return TransportError(f"{what}: connection lost ({exc or type(exc).__name__})")
    if isinstance(exc, OSError) and exc.filename is None:
        return TransportError(f"{what}: network error ({exc})")
    return None


@asynccontextmanager
async def guarded(what: str, timeout: float | None) -> AsyncIterator[None]:
    """Run the block with a timeout (None: none) and translate its failures for ``what``."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError as exc:
        raise TransportError(f"{what}: no answer from the server within {timeout:g} s; "
                             "check the network or raise the timeout") from exc
    except Exception as exc:
        mapped = translate(exc, what)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc


async def quietly(cleanup: Awaitable[object], timeout: float) -> None:
    """Best-effort cleanup after a failure: bounded in time, and never hides that failure."""
    try:
        async with asyncio.timeout(timeout):
            await cleanup
    except (Exception, asyncio.CancelledError):
        pass
