"""Remote operations on an account's pooled connection, retried with backoff on network errors.

The delay policy is ``sf1630.transport.backoff.next_delay`` (pure); this only sleeps, and wakes
early when the agent stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sf1630.core.health import Health
from sf1630.core.specs import Link
from sf1630.errors import ConnectFailed, RemoteRefused, Sf1630Error, TransportError
from sf1630.journal.fence import check_current
from sf1630.transport.backoff import next_delay, should_retry
from sf1630.transport.pool import Pool
from sf1630.transport.sftp import Session

T = TypeVar("T")
log = logging.getLogger("sf1630.remote")


class Stopped(Exception):
    """The agent is stopping; the transfer stays in its journalled state and resumes next start."""


class Unreachable(TransportError):
    """The platform could not be reached for an account; already logged once by ``Health``."""


class Remote:
    """Runs ``op(session)`` for a Link with retries; one instance per sender or receiver.

    ``give_up`` (one-shot commands) bounds the time an account keeps failing to connect: past it the
    operation fails, and so does every later one of that account in this process, at once (issue #17).
    ``health`` (sf1630.core.health.Health) hears of each success and of each failed connection.
    """

    def __init__(self, pool: Pool, stop: asyncio.Event, *, base: float = 1.0, cap: float = 60.0, attempts: int = 8,
                 give_up: float | None = None, health: Health | None = None):
        self.pool, self.stop = pool, stop
        self.base, self.cap, self.attempts = base, cap, attempts
        self.give_up, self.health = give_up, health
        self._failing: dict[str, float] = {}  # account -> when its failing attempts began (monotonic)
        self._gave_up: dict[str, str] = {}

    async def run(self, link: Link, op: Callable[[Session], Awaitable[T]], *, refused_too: bool = False) -> T:
        """Run ``op`` on the account's connection; network errors (and, if asked, refusals) are retried."""
        if link.name in self._gave_up:
            raise Unreachable(self._gave_up[link.name])
        also = (RemoteRefused,) if refused_too else ()
        for attempt in range(self.attempts):
            check_current()  # a process that lost the lease of this work must not act (issue #21)
            began = time.monotonic()
            try:
                async with self.pool.session(link.endpoint, link.credentials) as session:
                    result = await op(session)
            except Sf1630Error as exc:
                retry = should_retry(exc, also)
                if retry and isinstance(exc, ConnectFailed) and self.health is not None:
                    self.health.failed(link.name, str(exc))  # at once: the metric and `status` say so
                delay = next_delay(attempt, base=self.base, cap=self.cap)
                if isinstance(exc, ConnectFailed) and self._out_of_time(link, began, delay):
                    raise self._give_up(link, exc) from exc
                if attempt + 1 >= self.attempts or not retry:
                    raise
                # A one-shot command says it once when it gives up (issue #17); the service logs each retry.
                quiet = self.give_up is not None and isinstance(exc, ConnectFailed)
                (log.debug if quiet else log.info)("%s: %s; retry %d in %.2f s", link.name, exc, attempt + 1, delay)
                await self.pause(delay)
            else:
                self._failing.pop(link.name, None)
                if self.health is not None:
                    self.health.ok(link.name)
                return result
        raise AssertionError("unreachable")

    def _out_of_time(self, link: Link, began: float, delay: float) -> bool:
        """Whether another attempt would end past ``give_up`` (a timed-out attempt takes as long again)."""
        if self.give_up is None:
            return False
        first = self._failing.setdefault(link.name, began)
        now = time.monotonic()
        return now - first + delay + (now - began) >= self.give_up

    def _give_up(self, link: Link, exc: Sf1630Error) -> Unreachable:
        """Stop trying ``link`` in this process: one ERROR line for the account, then fail fast."""
        waited = time.monotonic() - self._failing.get(link.name, time.monotonic())
        if link.name not in self._gave_up:
            log.error("%s: the platform is unreachable: %s; gave up after %.0f s (give_up_seconds %g); "
                      "what is unfinished resumes on the next send, receive or run", link.name, exc, waited,
                      self.give_up, extra={"account": link.name})
            self._gave_up[link.name] = f"{exc} (gave up after {waited:.0f} s)"
        return Unreachable(self._gave_up[link.name])

    async def pause(self, seconds: float) -> None:
        """Sleep, but raise Stopped at once when the agent stops."""
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            return
        raise Stopped()
