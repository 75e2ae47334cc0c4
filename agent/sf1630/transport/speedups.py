"""Less work per SSH packet for the agent's asyncssh connections (issue #9).

A bulk SFTP transfer is cut into 32 KiB channel packets (OpenSSH's limit), so the per-packet
cost of asyncssh decides the speed. Measured on 2 cores (docs/PERFORMANCE.md, part 6), these
steps cut the client's CPU per uploaded GiB by about a quarter:

* ``no_ignore``: asyncssh sends an empty SSH_MSG_IGNORE before every packet, a defence for CBC
  ciphers (RFC 4251, 9.3.1). The agent offers no CBC cipher; the extra packet doubled the
  encryptions and the socket writes.
* ``quiet_packets``: asyncssh formats a log line for every packet before checking whether packet
  logging (its debug level 3) is on; checked first now.
* ``quiet_sftp``: the SFTP client logs two or three debug lines per request and converts their
  arguments before the level is checked; checked first now (3 % of a small-file sender's profile).
* ``coalesce_writes``: the packets made in one event-loop turn go to the socket in one write
  instead of one system call each.
* ``allocator``: glibc returns freed heap memory to the kernel as soon as 128 KiB are free at the
  top, so every 255 KiB block was a fresh mmap or brk plus page faults; keep some slack instead.
* ``direct_auth``: asyncssh logs in with three requests, each waiting for its answer: the "none"
  method (which methods does the server take?), a query (would it take this key?), then the signed
  request. RFC 4252 lets a client send the signed request at once; one request instead of three
  takes two round trips and four messages off every connection (issue #23: a LIS agent opens one
  per municipality each run). A key the server refuses is refused as before: a failure, then the
  next key.

Each step checks the asyncssh internals it relies on and is left out when they changed (the
connection then works as before, only slower). ``SF1630_PLAIN_SSH=1`` turns all of them off;
``SF1630_SSH_STEPS=no_ignore,quiet_packets`` keeps only the steps named (for measuring each step,
see ``python -m bench --parts 6``), including ``lean_writes``, ``lean_reads`` and ``lean_replies`` of
:mod:`sf1630.transport.fastsend`, :mod:`sf1630.transport.fastrecv` and
:mod:`sf1630.transport.fastreply` and ``big_packets`` (the 256 KiB channel packets offered to the
server, ``auth.MAX_PACKET``).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
from collections.abc import Callable

import asyncssh
from asyncssh import auth as asyncssh_auth
from asyncssh.constants import MSG_IGNORE
from asyncssh.logging import SSHLogger

log = logging.getLogger(__name__)

_EMPTY_STRING = (b"\0\0\0\0",)  # the argument asyncssh passes with its padding MSG_IGNORE
_allocator_done = False


# The exact asyncssh releases the speed-ups were measured and tested with (constraints.txt pins it).
# They reach into its internals, so any other release, a patch release too (2.24.0 lacks the
# receive limit lean_reads checks), runs plain asyncssh (slower, never wrong) until tested and added.
TESTED_ASYNCSSH = ("2.24.1",)
_untested_said = False


def tested_asyncssh() -> bool:
    """Whether the installed asyncssh is one the speed-ups were tested with (said once when not)."""
    global _untested_said
    if asyncssh.__version__ in TESTED_ASYNCSSH:
        return True
    if not _untested_said:
        _untested_said = True
        log.info("asyncssh %s: transfer speed-ups off (tested with %s only); transfers run plain asyncssh",
                 asyncssh.__version__, ", ".join(TESTED_ASYNCSSH))
    return False


def enabled(step: str = "") -> bool:
    """Whether the speed-ups (or the one named) are wanted: not with ``SF1630_PLAIN_SSH=1``, and
    only those listed in ``SF1630_SSH_STEPS`` when it is set."""
    if os.environ.get("SF1630_PLAIN_SSH", "") not in ("", "0") or not tested_asyncssh():
        return False
    only = os.environ.get("SF1630_SSH_STEPS")
    return not step or only is None or step in {s.strip() for s in only.split(",")}


def tune(conn: asyncssh.SSHClientConnection) -> tuple[str, ...]:
    """Apply every step that fits this connection and its channels; returns the names applied."""
    if not enabled():
        return ()
    applied = [name for name, step in _STEPS if enabled(name) and step(conn)]
    if enabled("allocator") and tune_allocator():
        applied.append("allocator")
    log.debug("asyncssh speed-ups applied: %s", ", ".join(applied) or "none")
    return tuple(applied)


def _no_ignore(conn: asyncssh.SSHClientConnection) -> bool:
    send = getattr(conn, "send_packet", None)
    if send is None or not hasattr(conn, "_send_encryption") or _cbc(conn):
        return False  # under CBC the empty packets are kept, so the step would do nothing

    def send_packet(pkttype: int, *args: bytes, handler=None) -> None:
        if pkttype == MSG_IGNORE and args == _EMPTY_STRING and not _cbc(conn):
            return
        send(pkttype, *args, handler=handler)

    conn.send_packet = send_packet  # type: ignore[method-assign]
    return True


def _cbc(conn: asyncssh.SSHClientConnection) -> bool:
    return "cbc" in str(conn.get_extra_info("send_cipher", ""))


def _quiet_packets(conn: asyncssh.SSHClientConnection) -> bool:
    handlers = [conn, *getattr(conn, "_channels", {}).values()]
    if not all(hasattr(h, "log_sent_packet") and hasattr(h, "log_received_packet") for h in handlers):
        return False
    for handler in handlers:
        handler.log_sent_packet = _when_dumping(handler.log_sent_packet)
        handler.log_received_packet = _when_dumping(handler.log_received_packet)
    return True


def _when_dumping(logger: Callable[..., None]) -> Callable[..., None]:
    def log_packet(*args, **kwargs) -> None:
        if SSHLogger._debug_level >= 3:  # asyncssh.set_debug_level(3): packet dumps wanted
            logger(*args, **kwargs)
    return log_packet


class LevelFirst(SSHLogger):
    """asyncssh's logger, checking the level before it converts a line's arguments."""

    def log(self, level: int, msg: object, *args, **kwargs) -> None:
        if self._logger.isEnabledFor(level):
            super().log(level, msg, *args, **kwargs)


def quiet_sftp(sftp: asyncssh.SFTPClient) -> bool:
    """Give the SFTP client's request handler a :class:`LevelFirst` logger; True when applied."""
    handler = getattr(sftp, "_handler", None)
    logger = getattr(handler, "_logger", None)
    if not enabled("quiet_sftp") or type(logger) is not SSHLogger:
        return False
    handler._logger = LevelFirst(logger._logger, context=logger._context)
    return True


def _coalesce_writes(conn: asyncssh.SSHClientConnection) -> bool:
    if not callable(getattr(conn, "_send", None)) or getattr(conn, "_transport", None) is None:
        return False
    loop = asyncio.get_running_loop()
    queued: list[bytes] = []
    target: list[asyncio.WriteTransport] = []

    def flush() -> None:
        data = b"".join(queued)
        transport = target[0]
        queued.clear()
        target.clear()
        if not transport.is_closing():
            try:
                transport.write(data)
            except ConnectionError:  # as asyncssh's own write: the loss is reported elsewhere
                pass

    def send(data: bytes) -> None:
        transport = conn._transport  # captured now: asyncssh forgets it before an abort runs
        if transport is None:
            return
        if target and target[0] is not transport:
            flush()
        if not target:
            target.append(transport)
            loop.call_soon(flush)  # before any abort asyncssh schedules after this write
        queued.append(data)

    conn._send = send  # type: ignore[method-assign]
    return True


def tune_allocator() -> bool:
    """Keep freed heap memory for reuse (glibc only; once per process); True when set."""
    global _allocator_done
    if _allocator_done:
        return True
    try:  # glibc's mallopt, from the process's own symbols (find_library would run ldconfig)
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, ValueError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    # blocks and coalesced writes (up to the 2 MiB window) from the heap; up to 32 MiB of free heap kept
    ok = all(mallopt(opt, value) == 1 for opt, value in
             ((m_mmap_threshold, 4 << 20), (m_trim_threshold, 32 << 20), (m_top_pad, 4 << 20)))
    _allocator_done = ok
    return ok


def direct_auth(conn: asyncssh.SSHClientConnection) -> bool:
    """``direct_auth`` for a connection being made (the client's ``connection_made``); True when applied."""
    if not enabled("direct_auth") or getattr(conn, "_auth_methods", None) != [b"none"] or not _signed_first():
        return False
    conn._auth_methods = [b"publickey"]  # type: ignore[attr-defined]  # no "none" probe first
    conn._sf1630_signed_first = True  # type: ignore[attr-defined]
    return True


def _signed_first() -> bool:
    """Put, once, a public-key auth that signs at once for the connections marked so (others as before)."""
    handlers = getattr(asyncssh_auth, "_client_auth_handlers", None)
    base = getattr(asyncssh_auth, "_ClientPublicKeyAuth", None)
    if not isinstance(handlers, dict) or base is None or not hasattr(base, "_send_signed_request"):
        return False
    current = handlers.get(b"publickey")
    if getattr(current, "sf1630_signed_first", False):
        return True
    if current is not base:
        return False

    class SignedFirst(base):  # type: ignore[misc, valid-type]
        sf1630_signed_first = True

        async def _start(self) -> None:
            if not getattr(self._conn, "_sf1630_signed_first", False):
                return await super()._start()
            self._keypair = await self._conn.public_key_auth_requested()
            if self._keypair is None:
                self._conn.try_next_auth(next_method=True)
                return
            await self._send_signed_request()

    handlers[b"publickey"] = SignedFirst
    return True


_STEPS: tuple[tuple[str, Callable[[asyncssh.SSHClientConnection], bool]], ...] = (
    ("no_ignore", _no_ignore), ("quiet_packets", _quiet_packets), ("coalesce_writes", _coalesce_writes))
