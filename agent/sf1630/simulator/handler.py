"""The SFTP protocol layer as clients tuned for OpenSSH expect it (issues #8, #12).

asyncssh's server handler is stricter than OpenSSH's sftp-server in one way that breaks a common
client, and announces limits no OpenSSH server has; the small subclasses here change exactly that.
"""

from __future__ import annotations

import logging
import os
import struct

from asyncssh import Error, SFTPServer
from asyncssh.logging import SSHLogger
from asyncssh.packet import Byte, PacketDecodeError, SSHPacket, UInt32
from asyncssh.sftp import MAX_SFTP_PACKET_LEN, SFTPBadMessage, SFTPLimits, SFTPServerHandler
from asyncssh.stream import SFTPServerFactory, SSHReader, SSHServerStreamSession, SSHWriter

from sf1630.simulator.fastserve import FastRequests
from sf1630.transport import fastrecv, speedups

# What OpenSSH 9's sftp-server announces in limits@openssh.com; clients tuned for OpenSSH
# (ours included) then choose the same request sizes against the simulator.
OPENSSH_MAX_PACKET = 256 * 1024
OPENSSH_MAX_READ_WRITE = OPENSSH_MAX_PACKET - 1024
READ_CHUNK = 1 << 20         # bytes taken from the channel at once: every request they complete is served
BATCH_BYTES = 64 * 1024      # answers held for one channel write; a bigger one (a READ's data) goes at once
_HEADER = struct.Struct(">IBI")   # an answer's length, type and request id


class _TolerantPacket(SSHPacket):
    """A request whose trailing bytes are ignored, as OpenSSH's sftp-server ignores them.

    rclone 1.60 (pkg/sftp with concurrent writes) sends its last WRITE with bytes after the data;
    OpenSSH skips whatever a request carries beyond its fields, asyncssh answers SSH_FX_BAD_MESSAGE.
    """

    def check_end(self) -> None:
        return None


class _LevelFirst(SSHLogger):
    """asyncssh's logger converts every argument of a line before the level is checked, and a served
    request logs two or three debug lines: check the level first."""

    def log(self, level: int, msg: object, *args, **kwargs) -> None:
        if self._logger.isEnabledFor(level):
            super().log(level, msg, *args, **kwargs)


class TolerantSFTPHandler(FastRequests, SFTPServerHandler):
    """asyncssh's SFTP server handler, lenient about trailing bytes and announcing OpenSSH's limits.

    It serves requests a batch at a time (issue #23): it takes everything the channel holds, serves
    every complete request in it, and sends their answers in one channel write, where asyncssh
    reads each request with two waits and writes each answer on its own. The requests of a
    delivery are served by FastRequests, the rest by asyncssh.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._logger = _LevelFirst(self._logger._logger, context=self._logger._context)
        self._answers: list[bytes] | None = None   # a batch's answers, while one is served

    async def recv_packet(self) -> SSHPacket:
        assert self._reader is not None
        size = int.from_bytes(await self._reader.readexactly(4), "big")
        if size > MAX_SFTP_PACKET_LEN:
            raise SFTPBadMessage("Max packet size exceeded")
        return _TolerantPacket(await self._reader.readexactly(size))

    async def recv_packets(self) -> None:
        buf = bytearray()
        try:
            while self._reader:
                chunk = await self._reader.read(READ_CHUNK)
                if not chunk:
                    raise EOFError
                buf += chunk
                del buf[:await self._serve_batch(buf)]
        except PacketDecodeError as exc:
            await self._cleanup(SFTPBadMessage(str(exc)))
        except EOFError:
            await self._cleanup(None)
        except (OSError, Error) as exc:
            await self._cleanup(exc)

    async def _serve_batch(self, buf: bytearray) -> int:
        """Serve every complete request in ``buf``, answers in one write; returns the bytes used."""
        pos, self._answers = 0, []
        fast = not self._logger.isEnabledFor(logging.DEBUG)   # asyncssh's path logs every request
        try:
            while len(buf) - pos >= 4:
                size = int.from_bytes(buf[pos:pos + 4], "big")
                if size > MAX_SFTP_PACKET_LEN:
                    raise SFTPBadMessage("Max packet size exceeded")
                if len(buf) - pos - 4 < size:
                    break
                with memoryview(buf) as view:
                    packet = _TolerantPacket(bytes(view[pos + 4:pos + 4 + size]))
                pos += 4 + size
                pkttype, pktid = packet.get_byte(), packet.get_uint32()
                if fast and await self.serve(pkttype, pktid, packet):
                    continue
                self.log_received_packet(pkttype, pktid, packet)
                await self._process_packet(pkttype, pktid, packet)
        finally:
            self._flush_answers()
            self._answers = None
        return pos

    def send_packet(self, pkttype: int, pktid: int | None, *args: bytes) -> None:
        if self._answers is None or sum(map(len, args)) > BATCH_BYTES:
            self._flush_answers()
            super().send_packet(pkttype, pktid, *args)
            return
        payload = Byte(pkttype) + b"".join(args)
        self._answers.append(UInt32(len(payload)) + payload)
        self.log_sent_packet(pkttype, pktid, payload)

    def answer(self, pkttype: int, pktid: int, body: bytes) -> None:
        """Send (or hold for the batch's write) an answer whose request was served here."""
        if self._answers is None or len(body) > BATCH_BYTES:
            self.send_packet(pkttype, pktid, UInt32(pktid), body)
        else:
            self._answers.append(_HEADER.pack(len(body) + 5, pkttype, pktid) + body)

    def _flush_answers(self) -> None:
        """Answers held so far go out first, so that a big one never overtakes them."""
        if self._answers and self._writer and not self._writer.channel.is_closing():
            self._writer.write(b"".join(self._answers))
        if self._answers:
            self._answers.clear()

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
