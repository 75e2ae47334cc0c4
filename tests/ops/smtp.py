"""A small SMTP server for tests: asyncio on its own thread, keeps every message it is given.

It speaks enough of RFC 5321 for ``smtplib``: EHLO/HELO, STARTTLS (given a server ``tls`` context),
optional AUTH PLAIN/LOGIN, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP and QUIT.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.message
import email.policy
import ssl
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    """One message as the server got it."""

    sender: str
    recipients: list[str]
    data: bytes
    login: str | None = None
    tls: bool = False

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class SmtpServer:
    """``with SmtpServer() as smtp:`` listens on 127.0.0.1:``smtp.port``; messages in ``smtp.messages``."""

    users: dict[str, str] = field(default_factory=dict)  # login -> password; empty: no AUTH offered
    tls: ssl.SSLContext | None = None  # offer STARTTLS with this server context
    messages: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._arrived = threading.Condition()

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", 0), self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` messages arrived (AssertionError after ``timeout``)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} message(s) arrived, expected {count}")
        return list(self.messages)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state: dict = {"from": None, "to": [], "login": None, "writer": writer, "tls": False}

        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 test SMTP ready")
        try:
            while line := (await reader.readline()).decode(errors="replace").rstrip("\r\n"):
                verb, _, arg = line.partition(" ")
                if not await self._command(verb.upper(), arg, state, reader, reply):
                    break
        finally:
            writer.close()

    async def _command(self, verb: str, arg: str, state: dict, reader: asyncio.StreamReader, reply) -> bool:
        if verb == "EHLO":
            offers = (["STARTTLS"] if self.tls and not state["tls"] else []) + (["AUTH PLAIN LOGIN"] if self.users else [])
            lines = ["test", *offers]
            for i, text in enumerate(lines):
                await reply(f"250{'-' if i < len(lines) - 1 else ' '}{text}")
        elif verb == "STARTTLS" and self.tls:
            await reply("220 go ahead")
            await state["writer"].start_tls(self.tls)
            state["tls"] = True
        elif verb == "HELO":
            await reply("250 test")
        elif verb == "AUTH":
            await self._auth(arg, state, reader, reply)
        elif verb == "MAIL":
            if self.tls and not state["tls"]:
                await reply("530 STARTTLS first")
            elif self.users and not state["login"]:
                await reply("530 authentication required")
            else:
                state["from"], state["to"] = arg.partition(":")[2].strip("<> "), []
                await reply("250 OK")
        elif verb == "RCPT":
            state["to"].append(arg.partition(":")[2].strip("<> "))
            await reply("250 OK")
        elif verb == "DATA":
            await reply("354 end with <CRLF>.<CRLF>")
            await self._data(state, reader, reply)
        elif verb in ("RSET", "NOOP"):
            await reply("250 OK")
        elif verb == "QUIT":
            await reply("221 bye")
            return False
        else:
            await reply("502 not implemented")
        return True

    async def _auth(self, arg: str, state: dict, reader: asyncio.StreamReader, reply) -> None:
        mech, _, initial = arg.partition(" ")
        if mech.upper() == "PLAIN":
            _, user, password = base64.b64decode(initial).decode().split("\0")
        else:  # LOGIN
            await reply("334 VXNlcm5hbWU6")
            user = base64.b64decode(await reader.readline()).decode()
            await reply("334 UGFzc3dvcmQ6")
            password = base64.b64decode(await reader.readline()).decode()
        if self.users.get(user) == password:
            state["login"] = user
            await reply("235 authenticated")
        else:
            await reply("535 authentication failed")

    async def _data(self, state: dict, reader: asyncio.StreamReader, reply) -> None:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        with self._arrived:
            self.messages.append(Received(state["from"], list(state["to"]), b"".join(lines), state["login"],
                                          state["tls"]))
            self._arrived.notify_all()
        await reply("250 queued")
