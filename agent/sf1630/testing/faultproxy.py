"""A TCP relay that breaks the network on demand, between an SFTP client and its server (issue #5).

Tests and the soak put it between the agent and the platform simulator: the agent's environment
names the proxy's port (and its known_hosts trusts the platform's key under that port). Faults:

- ``cut(after=0, direction="any")``: cut every open connection once ``after`` more bytes have
  passed (0: now) -- a dropped link in the middle of a transfer;
- ``stall(after=0, seconds=None)``: stop relaying (connections stay open) for ``seconds`` or until
  ``resume()`` -- a link that goes quiet; ``throttle(rate)``: a slow link;
- ``refuse(count=None)``: close new connections at once (``count`` of them, or until ``allow()``);
- ``hold_links()``: the connections open now stop carrying anything (new ones flow), e.g. to keep
  a killed client's connection open towards the server;
- ``chaos(every=20, rng=...)``: on average every ``every`` client messages, one random fault.
  A client message is about one SFTP request (``listdir`` is 4: open, 2 reads, close; an atomic
  ``write_bytes`` 5). The first ``HANDSHAKE`` messages of a connection (key exchange, login, SFTP
  start: one connect) are spared, so that faults land on operations; ``refuse`` breaks connects.

Counters (``faults`` by kind, ``bytes_up``/``bytes_down``, ``connections``, ``messages``) let a test
tell where a transfer is (e.g. "the download has started": ``bytes_down`` grew past the handshake).
``FaultProxy.start_thread(...)`` runs it on its own event loop thread; its controls may then be
called from any thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHUNK = 64 * 1024
IN_FLIGHT = 16  # chunks held per direction while a link stalls (about 1 MiB), then back-pressure
HANDSHAKE = 12  # client messages of an SSH connect up to a ready SFTP session (asyncssh client)
CHAOS_KINDS = ("cut", "cut_mid", "stall", "refuse")


@dataclass
class _Arm:
    """A fault waiting for ``left`` more bytes in ``direction`` before it fires."""

    kind: str  # "cut" | "stall"
    left: int
    direction: str  # "up" (client to server), "down" or "any"
    seconds: float | None = None


@dataclass(eq=False)
class _Link:
    """One client connection and its server connection."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    cut_after: int | None = None  # chaos "cut_mid": bytes left before this link is cut
    messages: int = 0  # client messages relayed on this link
    tasks: list[asyncio.Task] = field(default_factory=list)

    def cut(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()  # no FIN handshake: the peer sees a reset


class FaultProxy:
    """Relays ``host:port`` to ``target_host:target_port`` and injects faults when told to."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self.host, self.port = host, port
        self.faults: Counter[str] = Counter()
        self.bytes_up = self.bytes_down = self.connections = self.messages = 0
        self._links: set[_Link] = set()
        self._arms: list[_Arm] = []
        self._flowing = asyncio.Event()  # cleared while the whole proxy stalls
        self._refusing: int | None = 0  # connections still to refuse; None: all until allow()
        self._rate: float | None = None
        self._chaos: tuple[float, random.Random, tuple[str, ...]] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> FaultProxy:
        """Listen (``port`` 0 picks a free port, read it back from ``self.port``)."""
        self._loop = asyncio.get_running_loop()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
        self._cut_all()
        self._flowing.set()
        if self._server is not None:
            await self._server.wait_closed()

    @classmethod
    def start_thread(cls, target_host: str, target_port: int, **kw: Any) -> FaultProxy:
        """Start a proxy on an event loop of its own, in a daemon thread; ``close()`` ends both."""
        proxy = cls(target_host, target_port, **kw)
        loop = asyncio.new_event_loop()
        proxy._thread = threading.Thread(target=loop.run_forever, name="faultproxy", daemon=True)
        proxy._thread.start()
        asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
        return proxy

    def close(self) -> None:
        """Stop a proxy started with :meth:`start_thread`."""
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("close() is for a proxy started with start_thread(); await stop() instead")
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)

    def retarget(self, port: int) -> None:
        """Relay new connections to another server port (a restarted server on a new port)."""
        self.target = (self.target[0], port)

    # -- controls (any thread) -------------------------------------------------------------
    def cut(self, after: int = 0, direction: str = "any") -> None:
        """Cut every open connection now, or once ``after`` more bytes passed in ``direction``."""
        self._call(self._arm, _Arm("cut", after, direction))

    def stall(self, after: int = 0, direction: str = "any", seconds: float | None = None) -> None:
        """Stop relaying (now, or after ``after`` more bytes) for ``seconds`` or until resume()."""
        self._call(self._arm, _Arm("stall", after, direction, seconds))

    def resume(self) -> None:
        """End every stall (of the proxy and of single connections); disarm faults not yet fired."""
        self._call(self._resume)

    def throttle(self, rate: float | None) -> None:
        """Relay at most ``rate`` bytes per second each way (None: full speed)."""
        self._call(setattr, self, "_rate", rate)

    def refuse(self, count: int | None = None) -> None:
        """Close the next ``count`` new connections at once (None: every one until allow())."""
        self._call(self._refuse, count)

    def allow(self) -> None:
        """Accept new connections again."""
        self._call(setattr, self, "_refusing", 0)

    def chaos(self, every: float | None, rng: random.Random | None = None,
              kinds: tuple[str, ...] = CHAOS_KINDS) -> None:
        """Inject one random fault of ``kinds`` per ``every`` client messages on average (None: stop)."""
        value = None if every is None else (1.0 / every, rng or random.Random(), kinds)
        self._call(setattr, self, "_chaos", value)

    def hold_links(self) -> None:
        """Stop the connections open now (until resume()); connections opened later flow."""
        self._call(self._hold_links)

    def _hold_links(self) -> None:
        for link in self._links:
            link.flowing.clear()
        self.faults["hold"] += 1

    @property
    def held(self) -> int:
        """Connections stalled on their own (by hold_links or a chaos stall) right now."""
        return sum(1 for link in list(self._links) if not link.flowing.is_set())

    def cut_all(self) -> None:
        """Cut every open connection now (also counted as a fault)."""
        self._call(self._fire, _Arm("cut", 0, "any"))

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or not loop.is_running() or _on_loop(loop):
            fn(*args)
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn(*args)
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(5)

    # -- what the controls do (event loop) -------------------------------------------------
    def _arm(self, arm: _Arm) -> None:
        if arm.left <= 0:
            self._fire(arm)
        else:
            self._arms.append(arm)

    def _fire(self, arm: _Arm) -> None:
        self.faults[arm.kind] += 1
        if arm.kind == "cut":
            self._cut_all()
            return
        self._flowing.clear()
        if arm.seconds is not None:
            self._started().call_later(arm.seconds, self._flowing.set)

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("FaultProxy is not started: await start() or call start_thread() first")
        return self._loop

    def _resume(self) -> None:
        self._arms.clear()
        self._flowing.set()
        for link in self._links:
            link.flowing.set()

    def _refuse(self, count: int | None) -> None:
        self._refusing = None if count is None else (self._refusing or 0) + count

    def _cut_all(self) -> None:
        for link in list(self._links):
            link.cut()

    # -- relaying --------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing is None or self._refusing > 0:
            if self._refusing:
                self._refusing -= 1
            self.faults["refused"] += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:  # the server is down: the client sees its connection closed
            writer.transport.abort()
            return
        self.connections += 1
        link = _Link(writer, up_writer)
        link.flowing.set()
        self._links.add(link)
        link.tasks = [asyncio.ensure_future(self._pump(link, reader, up_writer, "up")),
                      asyncio.ensure_future(self._pump(link, up_reader, writer, "down"))]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            link.cut()

    async def _pump(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: str) -> None:
        """Forward one direction. Bytes a peer sent before it went away are still delivered, as a
        network delivers what is in flight: reading never waits for a stall, forwarding does."""
        flight: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=IN_FLIGHT)
        filling = asyncio.ensure_future(_fill(reader, flight))
        try:
            while (data := await flight.get()) is not None:
                await self._flowing.wait()
                await link.flowing.wait()
                if self._rate:
                    await asyncio.sleep(len(data) / self._rate)
                writer.write(data)
                await writer.drain()
                self._count(link, direction, len(data))
            writer.close()  # the sender closed: so does its way through the proxy
        except (ConnectionError, OSError):
            pass
        finally:
            filling.cancel()

    def _count(self, link: _Link, direction: str, n: int) -> None:
        if direction == "up":
            self.bytes_up += n
            self.messages += 1
            link.messages += 1
            if link.messages > HANDSHAKE:
                self._maybe_chaos(link)
        else:
            self.bytes_down += n
        if link.cut_after is not None:
            link.cut_after -= n
            if link.cut_after <= 0:
                link.cut_after = None
                link.cut()
        for arm in list(self._arms):
            if arm.direction in ("any", direction):
                arm.left -= n
                if arm.left <= 0:
                    self._arms.remove(arm)
                    self._fire(arm)

    def _maybe_chaos(self, link: _Link) -> None:
        if self._chaos is None:
            return
        chance, rng, kinds = self._chaos
        if rng.random() >= chance:
            return
        kind = rng.choice(kinds)
        self.faults[kind] += 1
        if kind == "cut":
            link.cut()
        elif kind == "cut_mid":
            link.cut_after = rng.randrange(1, 256 * 1024)
        elif kind == "stall":
            link.flowing.clear()
            self._started().call_later(rng.uniform(0.2, 3.0), link.flowing.set)
        else:
            # the next one or two connects, not more: refusals do not pile up while nobody connects
            self._refusing = None if self._refusing is None else max(self._refusing, rng.randrange(1, 3))


async def _fill(reader: asyncio.StreamReader, flight: asyncio.Queue) -> None:
    """Read one direction into ``flight`` until the end (None marks it, also after a reset)."""
    try:
        while data := await reader.read(CHUNK):
            await flight.put(data)
    except (ConnectionError, OSError):
        pass
    await flight.put(None)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, every: float = 0.005) -> Any:
    """Poll ``condition`` until it returns something true; its value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(every)
