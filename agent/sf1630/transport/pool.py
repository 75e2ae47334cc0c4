"""Reuse SFTP connections: many transfers share one connection, a bound per host.

A vendor may hold one account per municipality on the same platform host (PROTOCOL rule 1),
so the bound is per host, not per account: when every slot is taken, an idle connection of
another account is closed to make room. A dropped connection is replaced on next use.
``keep_idle`` lets a long-running agent keep idle connections beyond the bound, so that an account
visited once per round finds its connection open next round (``sf1630 run``, issue #23).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sf1630.transport.sftp import Credentials, Endpoint, Session, Tuning, connect

log = logging.getLogger(__name__)
Key = tuple[Endpoint, Credentials]


@dataclass(eq=False)
class _Entry:
    key: Key
    session: Session
    users: int = 0


class Pool:
    """Connections per (endpoint, credentials), at most ``max_per_host`` per host and port.

    A connection takes up to ``streams_per_connection`` concurrent users before the pool opens
    another (while the host has room); past that, users share the least busy one. Connections in
    use (or opening) stay at most ``max_per_host``; up to ``keep_idle`` more may stay open idle.
    """

    def __init__(self, max_per_host: int = 4, *, streams_per_connection: int = 16,
                 connect_timeout: float = 30.0, tuning: Tuning | None = None, keep_idle: int = 0):
        self.max_per_host = max(1, max_per_host)
        self.keep_idle = max(0, keep_idle)
        self.streams_per_connection = max(1, streams_per_connection)
        self.connect_timeout, self.tuning = connect_timeout, tuning
        self._entries: list[_Entry] = []
        self._opening: dict[tuple[str, int], int] = {}
        self._pending: dict[Key, int] = {}
        self._changed = asyncio.Condition()
        self._closed = False
        self._closing: set[asyncio.Task] = set()

    @asynccontextmanager
    async def session(self, endpoint: Endpoint, credentials: Credentials) -> AsyncIterator[Session]:
        """``async with pool.session(endpoint, credentials) as s:`` a live, possibly shared session."""
        entry = await self._acquire((endpoint, credentials))
        try:
            yield entry.session
        finally:
            async with self._changed:
                entry.users -= 1
                self._changed.notify_all()

    def connections(self, endpoint: Endpoint | None = None) -> int:
        """Open connections (to one host, or in all)."""
        return sum(1 for e in self._entries if endpoint is None or _host(e.key) == _host_of(endpoint))

    async def _acquire(self, key: Key) -> _Entry:
        while True:
            async with self._changed:
                if self._closed:
                    raise RuntimeError("the connection pool is closed")
                self._prune()
                entry = self._pick(key)
                if entry is not None:
                    entry.users += 1
                    return entry
                if self._pending.get(key, 0) == 0 and self._make_room(_host(key)):
                    self._opening[_host(key)] = self._opening.get(_host(key), 0) + 1
                    self._pending[key] = 1
                else:  # a connection for this account is on its way, or the host is full
                    await self._changed.wait()
                    continue
            return await self._open(key)

    def _pick(self, key: Key) -> _Entry | None:
        mine = [e for e in self._entries if e.key == key]
        best = min(mine, key=lambda e: e.users, default=None)
        if best is None:
            return None
        host = _host(key)
        busy = self._busy(host)
        if best.users == 0 and busy >= self.max_per_host:
            return None  # a kept idle connection waits for a free slot like a new one
        full = busy >= self.max_per_host or self._count(host) >= self.max_per_host + self.keep_idle
        if best.users < self.streams_per_connection or full:
            return best
        return None

    def _make_room(self, host: tuple[str, int]) -> bool:
        """True when a new connection to ``host`` may open (closing an idle one if needed)."""
        if self._busy(host) >= self.max_per_host:
            return False
        if self._count(host) < self.max_per_host + self.keep_idle:
            return True
        idle = next((e for e in self._entries if _host(e.key) == host and e.users == 0), None)
        if idle is None:
            return False
        self._entries.remove(idle)
        self._close_later(idle.session)
        return True

    async def _open(self, key: Key) -> _Entry:
        try:
            session = await connect(key[0], key[1], timeout=self.connect_timeout, tuning=self.tuning)
        except BaseException:
            async with self._changed:
                self._opened(key)
            raise
        entry = _Entry(key, session, users=1)
        async with self._changed:
            self._entries.append(entry)  # in the same step, so waiters find it
            self._opened(key)
        return entry

    def _opened(self, key: Key) -> None:
        self._opening[_host(key)] -= 1
        self._pending[key] = 0
        self._changed.notify_all()

    def _count(self, host: tuple[str, int]) -> int:
        return self._opening.get(host, 0) + sum(1 for e in self._entries if _host(e.key) == host)

    def _busy(self, host: tuple[str, int]) -> int:
        """Connections to ``host`` in use or opening: the ones ``max_per_host`` bounds."""
        return self._opening.get(host, 0) + sum(1 for e in self._entries if _host(e.key) == host and e.users)

    def _prune(self) -> None:
        """Forget dropped connections; the next use opens a fresh one."""
        for entry in [e for e in self._entries if e.session.closed]:
            log.info("connection to %s:%d as %s dropped; reconnecting on next use",
                     entry.key[0].host, entry.key[0].port, entry.key[1].user)
            self._entries.remove(entry)
            self._close_later(entry.session)

    def _close_later(self, session: Session) -> None:
        task = asyncio.ensure_future(session.close())
        self._closing.add(task)  # keep a reference until it is done
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every connection; the pool cannot be used afterwards."""
        async with self._changed:
            self._closed = True
            entries, self._entries = self._entries, []
            self._changed.notify_all()
        await asyncio.gather(*(e.session.close() for e in entries), *self._closing, return_exceptions=True)

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _host(key: Key) -> tuple[str, int]:
    return _host_of(key[0])


def _host_of(endpoint: Endpoint) -> tuple[str, int]:
    return endpoint.host, endpoint.port
