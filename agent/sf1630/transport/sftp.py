"""The SFTP session: connect, atomic upload, durable download, list, stat, remove, rename.

Paths are relative to the user's start folder (``OUT/x.csv``), as the platform's clients
use them (PROTOCOL.md, "Older clients"). Every control operation has a timeout; transfers
fail on a stall instead (see :mod:`sf1630.transport.pipeline`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import asyncssh

from sf1630.errors import RemoteMissing, TransportError
from sf1630.transport import fastrecv, fastreply, fastsend, localfile, pipeline, speedups
from sf1630.transport.auth import MAX_PACKET, Client, Secret, load_keys, open_connection
from sf1630.transport.failures import guarded, quietly

log = logging.getLogger(__name__)

#: OpenSSH 9 advertises 261120-byte reads/writes and drops a session asking 262144 (issue #8).
MAX_BLOCK = 261120


@dataclass(frozen=True)
class Endpoint:
    """An SFTP server and the known_hosts file that must list its key."""

    host: str
    port: int
    known_hosts: Path


@dataclass(frozen=True)
class Credentials:
    """An SFTP user and its private keys, tried in order (passphrase from an env var or a file)."""

    user: str
    keys: tuple[Path, ...]
    passphrase_env: str | None = None
    passphrase_file: Path | None = None


@dataclass(frozen=True)
class RemoteFile:
    """A regular file on the server."""

    name: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Tuning:
    """Transfer knobs: request size (capped by the server's limit), requests in flight, timeouts.

    Uploads keep fewer writes in flight than downloads keep reads: OpenSSH's 2 MiB channel
    window holds about eight 255 KiB writes, and more only queue in the client (measured by
    tests/transport/measure.py: 8 beat 16-64 on loopback; downloads do best at 64).
    """

    block_size: int = MAX_BLOCK
    max_requests: int = 64
    upload_requests: int = 8
    op_timeout: float = 60.0
    stall_timeout: float = 60.0
    speedups: bool = True  # sf1630.transport.speedups; False measures asyncssh as it comes


async def connect(endpoint: Endpoint, credentials: Credentials, *, timeout: float = 30.0,
                  tuning: Tuning | None = None) -> Session:
    """Open an authenticated SFTP session.

    Raises HostKeyError (unknown/changed key or no known_hosts file), RemoteRefused (no key
    accepted), ConfigError (a key or passphrase cannot be read) or TransportError.
    """
    secret = Secret(credentials.passphrase_env, credentials.passphrase_file)
    keys = await asyncio.to_thread(load_keys, credentials.keys, secret)  # bcrypt KDF is slow
    tuning = tuning or Tuning()
    fast = tuning.speedups and speedups.enabled()
    big_packets = fast and speedups.enabled("big_packets")
    conn, client = await open_connection(endpoint.host, endpoint.port, credentials.user, endpoint.known_hosts,
                                         keys, timeout, max_packet=MAX_PACKET if big_packets else 32768, fast=fast)
    try:
        async with guarded(f"start SFTP on {endpoint.host}:{endpoint.port}", timeout):
            sftp = await conn.start_sftp_client()
    except BaseException:
        conn.abort()
        raise
    applied = (speedups.tune(conn) + (("big_packets",) if big_packets else ())
               + (("direct_auth",) if client.direct_auth else ())
               + (("quiet_sftp",) if speedups.quiet_sftp(sftp) else ())) if fast else ()
    bulk = fastsend.BulkWriter.attach(conn, sftp) if fast and speedups.enabled("lean_writes") else None
    fast_reads = fastrecv.FastReceiver.attach(conn) if fast and speedups.enabled("lean_reads") else None
    replies = fastreply.LeanReplies.attach(sftp) if fast and speedups.enabled("lean_replies") else None
    log.info("connected to %s:%d as %s with key %s (%s)", endpoint.host, endpoint.port,
             credentials.user, client.key_used, conn.get_extra_info("send_cipher"))
    session = Session(endpoint, credentials.user, client, conn, sftp, tuning)
    session.speedups = (applied + (("lean_writes",) if bulk else ()) + (("lean_reads",) if fast_reads else ())
                        + (("lean_replies",) if replies else ()))
    if fast:  # what runs on this connection; a step that would do nothing here is not attached
        log.debug("speed-ups in effect: %s", ", ".join(session.speedups) or "none")
    session._bulk = bulk
    return session


class Session:
    """One SSH connection with an SFTP channel; operations may run concurrently."""

    def __init__(self, endpoint: Endpoint, user: str, client: Client, conn: asyncssh.SSHClientConnection,
                 sftp: asyncssh.SFTPClient, tuning: Tuning):
        self.endpoint, self.user, self.tuning = endpoint, user, tuning
        if client.key_used is None:  # only publickey is offered; a server that asks for nothing is not the platform
            raise TransportError(f"{endpoint.host}:{endpoint.port}: the server let {user} in without a key; "
                                 "check that the address is the platform's")
        self.key_used: Path = client.key_used
        self._client, self._conn, self._sftp = client, conn, sftp
        self._closed = False
        self.speedups: tuple[str, ...] = ()  # names of the speed-ups in effect
        self._bulk: fastsend.BulkWriter | None = None
        limits = sftp.limits
        self.block_size = min(tuning.block_size, limits.max_read_len or MAX_BLOCK,
                              limits.max_write_len or MAX_BLOCK, MAX_BLOCK)

    @property
    def closed(self) -> bool:
        """True once the session was closed or its connection dropped."""
        return self._closed or self._client.lost.is_set()

    @property
    def cipher(self) -> str:
        """The negotiated cipher (client to server)."""
        return str(self._conn.get_extra_info("send_cipher"))

    def _where(self, op: str, path: str) -> str:
        return f"{op} {path} on {self.user}@{self.endpoint.host}:{self.endpoint.port}"

    def _guard(self, op: str, path: str):
        return guarded(self._where(op, path), self.tuning.op_timeout)

    # -- uploads -------------------------------------------------------------------------
    async def upload(self, local: Path, remote: str, *, progress: Callable[[int], None] | None = None,
                     part: str | None = None) -> int:
        """Upload ``local`` atomically to ``remote``; returns the bytes sent.

        Writes ``part`` (default ``remote + ".part"``), checks its size on the server, then renames it
        into place. ``progress`` gets the running byte count. A name of its own per attempt keeps a
        late request of an abandoned attempt off this one's file (issue #5).
        """
        with open(local, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            return await self._put(src, remote, size, progress, part)

    async def write_bytes(self, remote: str, data: bytes, *, part: str | None = None) -> None:
        """Write ``data`` to ``remote`` atomically, the way :meth:`upload` does (triggers)."""
        await self._put(io.BytesIO(data), remote, len(data), None, part)

    async def _put(self, src: BinaryIO, remote: str, size: int, progress, part: str | None = None) -> int:
        part = part or remote + ".part"
        try:
            sent = await self._send(src, part, progress)
            async with self._guard("check size of", part):
                got = (await self._sftp.stat(part)).size
            if sent != size or got != sent:
                raise TransportError(f"{self._where('upload', remote)}: size mismatch (local {size}, "
                                     f"sent {sent}, on server {got}); the upload is retried")
            await self._replace(part, remote)
        except BaseException:
            if not self.closed:  # best effort: never leave a .part behind
                await quietly(self._sftp.remove(part), min(self.tuning.op_timeout, 10.0))
            raise
        log.info("uploaded %s (%d bytes)", remote, sent)
        return sent

    async def _send(self, src: BinaryIO, part: str, progress) -> int:
        async with self._guard("open", part):
            rf = await self._sftp.open(part, "wb", block_size=0)
        try:
            async with guarded(self._where("upload", part), None):  # the stall timeout applies
                sent = await pipeline.push(rf, src, block=self.block_size, depth=self.tuning.upload_requests,
                                           stall=self.tuning.stall_timeout, what=self._where("upload", part),
                                           progress=progress, write=self._bulk.write if self._bulk else None)
        except BaseException:
            await quietly(rf.close(), min(self.tuning.op_timeout, 5.0))
            raise
        async with self._guard("close", part):
            await rf.close()
        return sent

    async def _replace(self, src: str, dst: str) -> None:
        async with self._guard("rename", f"{src} -> {dst}"):
            try:
                await self._sftp.posix_rename(src, dst)
            except asyncssh.SFTPOpUnsupported:  # no posix-rename@openssh.com: remove, then rename
                try:
                    await self._sftp.remove(dst)
                except asyncssh.SFTPNoSuchFile:
                    pass
                await self._sftp.rename(src, dst)

    # -- downloads -----------------------------------------------------------------------
    async def download(self, remote: str, local: Path, *, expected_size: int | None = None,
                       progress: Callable[[int], None] | None = None, listed: int | None = None) -> int:
        """Download ``remote`` to ``local`` durably; returns the bytes received.

        Streams into a temporary file beside ``local``, checks the size against
        ``expected_size`` and the server's, fsyncs, renames into place and fsyncs the folder.
        ``listed`` is the server's size from a listing just made: the open file is then not asked again.
        """
        async with self._guard("open", remote):
            rf = await self._sftp.open(remote, "rb", block_size=0)
        try:
            with localfile.Staged(local) as staged:
                got = await self._fetch(rf, remote, staged.fd, expected_size, progress, listed)
                await staged.commit()
        except BaseException:
            await quietly(rf.close(), min(self.tuning.op_timeout, 5.0))
            raise
        async with self._guard("close", remote):
            await rf.close()
        log.info("downloaded %s (%d bytes)", remote, got)
        return got

    async def _fetch(self, rf: asyncssh.SFTPClientFile, remote: str, fd: int, expected: int | None,
                     progress, listed: int | None = None) -> int:
        size = listed
        if size is None:
            async with self._guard("stat", remote):
                size = (await rf.stat()).size or 0
        if expected is not None and size != expected:
            raise TransportError(f"{self._where('download', remote)}: the server has {size} bytes, "
                                 f"expected {expected}; it may still be written, retry later")
        async with guarded(self._where("download", remote), None):  # the stall timeout applies
            got = await pipeline.pull(rf, fd, size, block=self.block_size, depth=self.tuning.max_requests,
                                      stall=self.tuning.stall_timeout, what=self._where("download", remote),
                                      progress=progress)
        if got != size:
            raise TransportError(f"{self._where('download', remote)}: got {got} of {size} bytes; "
                                 "the file changed during the download, retry later")
        return got

    async def read_bytes(self, remote: str, max_bytes: int = 1 << 20, *, listed: int = 0) -> bytes:
        """Read a small remote file whole (receipts, metadata); refuses one over ``max_bytes``.

        One READ at a time until end of file: a document costs two requests, where a parallel read
        of ``max_bytes`` would ask for every block up to it at once (six requests per document).
        ``listed`` is its size as a listing just gave it: once that much has come, the READ that
        would only say "end of file" is left out (a document that grew since then is read as far
        as it was, and a cut-off document does not parse: its reader looks again).
        """
        data = b""
        async with self._guard("read", remote):
            async with self._sftp.open(remote, "rb", block_size=0) as rf:
                while len(data) <= max_bytes:
                    chunk = await rf.read(min(self.block_size, max_bytes + 1 - len(data)), len(data))
                    if not chunk:
                        break
                    data += pipeline.as_bytes(chunk)
                    if 0 < listed <= len(data):
                        break
        if len(data) > max_bytes:
            raise TransportError(f"{self._where('read', remote)}: larger than {max_bytes} bytes, "
                                 "too big for a document; check the file on the server")
        return data

    # -- folders and names ---------------------------------------------------------------
    async def listdir(self, path: str) -> list[RemoteFile]:
        """Regular files in the folder ``path`` (no folders, no ``.``/``..``), sorted by name."""
        async with self._guard("list", path):
            names = await self._sftp.readdir(path)
        return sorted((_remote_file(n.filename, n.attrs) for n in names
                       if n.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR), key=lambda f: f.name)

    async def stat(self, path: str) -> RemoteFile | None:
        """The file at ``path``, or None when there is none."""
        try:
            async with self._guard("stat", path):
                attrs = await self._sftp.stat(path)
        except RemoteMissing:
            return None
        return _remote_file(posixpath.basename(path), attrs)

    async def remove(self, path: str, *, missing_ok: bool = True) -> bool:
        """Delete ``path``; False when it was not there (RemoteMissing unless ``missing_ok``)."""
        try:
            async with self._guard("remove", path):
                await self._sftp.remove(path)
        except RemoteMissing:
            if missing_ok:
                return False
            raise
        return True

    async def rename(self, old: str, new: str, *, replace: bool = False) -> None:
        """Rename ``old`` to ``new``; fails if ``new`` exists unless ``replace`` (then atomic)."""
        if replace:
            await self._replace(old, new)
            return
        async with self._guard("rename", f"{old} -> {new}"):
            await self._sftp.rename(old, new)

    async def close(self) -> None:
        """Close the SFTP channel and the connection."""
        if self._closed:
            return
        self._closed = True
        self._sftp.exit()
        self._conn.close()
        try:
            async with asyncio.timeout(5.0):
                await self._conn.wait_closed()
        except (TimeoutError, OSError, asyncssh.Error):
            self._conn.abort()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _remote_file(name: str | bytes, attrs: asyncssh.SFTPAttrs) -> RemoteFile:
    text = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    return RemoteFile(text, attrs.size or 0, float(attrs.mtime or 0))
