"""The SFTP protocol layer as clients tuned for OpenSSH expect it (issues #8, #12).

asyncssh's server handler is stricter than OpenSSH's sftp-server in one way that breaks a common
client, and announces limits no OpenSSH server has; the small subclasses here change exactly that.
"""

from __future__ import annotations

import os

from asyncssh import SFTPServer
from asyncssh.packet import SSHPacket
from asyncssh.sftp import MAX_SFTP_PACKET_LEN, SFTPBadMessage, SFTPLimits, SFTPServerHandler
from asyncssh.stream import SFTPServerFactory, SSHReader, SSHServerStreamSession, SSHWriter

from sf1630.transport import fastrecv, speedups

# What OpenSSH 9's sftp-server announces in limits@openssh.com; clients tuned for OpenSSH
# (ours included) then choose the same request sizes against the simulator.
OPENSSH_MAX_PACKET = 256 * 1024
OPENSSH_MAX_READ_WRITE = OPENSSH_MAX_PACKET - 1024


class _TolerantPacket(SSHPacket):
    """A request whose trailing bytes are ignored, as OpenSSH's sftp-server ignores them.

    rclone 1.60 (pkg/sftp with concurrent writes) sends its last WRITE with bytes after the data;
    OpenSSH skips whatever a request carries beyond its fields, asyncssh answers SSH_FX_BAD_MESSAGE.
    """

    def check_end(self) -> None:
        return None


class TolerantSFTPHandler(SFTPServerHandler):
    """asyncssh's SFTP server handler, lenient about trailing bytes and announcing OpenSSH's limits."""

    async def recv_packet(self) -> SSHPacket:
        assert self._reader is not None
        size = int.from_bytes(await self._reader.readexactly(4), "big")
        if size > MAX_SFTP_PACKET_LEN:
            raise SFTPBadMessage("Max packet size exceeded")
        return _TolerantPacket(await self._reader.readexactly(size))

    async def _process_limits(self, packet: SSHPacket) -> SFTPLimits:
        nfiles = os.sysconf("SC_OPEN_MAX") - 5
        return SFTPLimits(OPENSSH_MAX_PACKET, OPENSSH_MAX_READ_WRITE, OPENSSH_MAX_READ_WRITE, nfiles)

    # asyncssh calls each entry with the handler itself, here always this subclass.
    _packet_handlers = {**SFTPServerHandler._packet_handlers,
                        b"limits@openssh.com": _process_limits}  # type: ignore[dict-item]


class SFTPSession(SSHServerStreamSession):
    """An SSH session that serves only the SFTP subsystem, through TolerantSFTPHandler."""

    def __init__(self, sftp_factory: SFTPServerFactory):
        super().__init__(None, sftp_factory, sftp_version=3)

    def session_started(self) -> None:
        assert self._chan is not None and self._conn is not None
        server = self._init_sftp_server()
        if not isinstance(server, SFTPServer):  # our factory builds it at once, never awaits
            raise TypeError(f"the SFTP factory returned {type(server).__name__}, not an SFTPServer")
        reader, writer = SSHReader[bytes](self, self._chan), SSHWriter[bytes](self, self._chan)
        handler = TolerantSFTPHandler(server, reader, writer, 3)
        tune(self._conn)
        self._conn.create_task(handler.run(), reader.logger)


def tune(conn) -> None:
    """The agent's per-packet speed-ups on a served connection, once: no empty IGNORE packets, packet
    log lines only when dumping, one socket write per loop turn, AES-GCM data packets taken lean.
    Small files cost the simulator per packet, not per byte (issue #23)."""
    if getattr(conn, "_sf1630_tuned", False) or not speedups.enabled():
        return
    conn._sf1630_tuned = True
    speedups.tune(conn)
    if speedups.enabled("lean_reads"):
        fastrecv.FastReceiver.attach(conn)
