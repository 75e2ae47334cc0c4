"""Pipelined SFTP reads and writes: many requests in flight, files streamed, never held whole.

Each request is one SFTP READ or WRITE of up to ``block`` bytes (the server's limit,
issue #8); up to ``depth`` are outstanding at once. Instead of a total timeout, a transfer
fails when no request has completed for ``stall`` seconds, so a big file on a slow but
working link is never cut off.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import BinaryIO

import asyncssh

from sf1630.errors import TransportError

Progress = Callable[[int], None] | None
Writer = Callable[[asyncssh.SFTPClientFile, bytes, int], Awaitable[int]]


async def _settle(pending: set[asyncio.Future], stall: float, what: str) -> set[asyncio.Future]:
    """Wait for at least one request to finish; raise on a stall."""
    done, _ = await asyncio.wait(pending, timeout=stall, return_when=asyncio.FIRST_COMPLETED)
    if not done:
        raise TransportError(f"{what}: the transfer stalled, no progress for {stall:g} s")
    return done


async def _cancel_all(pending: set[asyncio.Future]) -> None:
    for fut in pending:
        fut.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


async def _write_at(rf: asyncssh.SFTPClientFile, data: bytes, offset: int) -> int:
    await rf.write(data, offset)
    return len(data)


async def push(rf: asyncssh.SFTPClientFile, src: BinaryIO, *, block: int, depth: int, stall: float,
               what: str, progress: Progress = None, write: Writer | None = None) -> int:
    """Write all of ``src`` (from its current position) to the remote file; returns bytes sent.

    ``rf`` must be opened with ``block_size=0`` so each write is a single request; ``write``
    sends one request (default: ``rf.write``; see :mod:`sf1630.transport.fastsend`).
    """
    write = write or _write_at
    pending: set[asyncio.Future] = set()
    offset = sent = 0
    eof = False
    try:
        while True:
            while not eof and len(pending) < depth:
                chunk = src.read(block)
                if not chunk:
                    eof = True
                    break
                pending.add(asyncio.ensure_future(write(rf, chunk, offset)))
                offset += len(chunk)
            if not pending:
                return sent
            for fut in await _settle(pending, stall, what):
                pending.discard(fut)
                sent += fut.result()
                if progress is not None:
                    progress(sent)
    finally:
        await _cancel_all(pending)


async def _read_at(rf: asyncssh.SFTPClientFile, offset: int, size: int) -> tuple[int, int, bytes]:
    try:
        data = as_bytes(await rf.read(size, offset))
    except asyncssh.SFTPEOFError:
        data = b""
    return offset, size, data


def as_bytes(data: str | bytes) -> bytes:
    """What a file opened in binary mode read: asyncssh types ``read()`` as either text or bytes."""
    if isinstance(data, str):
        raise TypeError("an SFTP file opened in binary mode returned text")
    return data


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


class _Writeback:
    """Start writing received data to disk early, so the final fsync is short and the page
    cache stays small (measured: the fsync after a 1 GiB download fell from ~0.5 s to ~0.2 s)."""

    STEP = 16 << 20

    def __init__(self, fd: int):
        self.fd, self.done, self.last = fd, 0, 0

    def advance(self, received: int, floor: int) -> None:
        """Everything below ``floor`` is written; hand it to the kernel every STEP bytes."""
        if received - self.last < self.STEP or floor <= self.done or not hasattr(os, "posix_fadvise"):
            return
        try:
            os.posix_fadvise(self.fd, self.done, floor - self.done, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        self.done, self.last = floor, received


async def pull(rf: asyncssh.SFTPClientFile, fd: int, size: int, *, block: int, depth: int, stall: float,
               what: str, progress: Progress = None) -> int:
    """Read ``size`` bytes of the remote file into the local file ``fd`` at the same offsets.

    Replies may come in any order; each lands at its own offset. A short reply asks again for
    the rest; an early end of file stops there (the caller's size check reports it).
    Returns the number of bytes received.
    """
    pending: dict[asyncio.Future, int] = {}
    offset = received = 0
    eof = False
    writeback = _Writeback(fd)

    def ask(at: int, n: int) -> None:
        pending[asyncio.ensure_future(_read_at(rf, at, n))] = at

    try:
        while True:
            while not eof and offset < size and len(pending) < depth:
                n = min(block, size - offset)
                ask(offset, n)
                offset += n
            if not pending:
                return received
            for fut in await _settle(set(pending), stall, what):
                del pending[fut]
                at, asked, data = fut.result()
                if not data:
                    eof = True
                    continue
                _pwrite_all(fd, data, at)
                received += len(data)
                if len(data) < asked and not eof:
                    ask(at + len(data), asked - len(data))
                if progress is not None:
                    progress(received)
            writeback.advance(received, min(pending.values(), default=offset))
    finally:
        await _cancel_all(set(pending))
