"""Remote operations on an account's pooled connection, retried with backoff on network errors.

The delay policy is ``sf1630.transport.backoff.next_delay`` (pure); this only sleeps, and wakes
early when the agent stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sf1630.errors import RemoteRefused, Sf1630Error
from sf1630.core.specs import Link
from sf1630.journal.fence import check_current

T = TypeVar("T")
log = logging.getLogger("sf1630.remote")


class Stopped(Exception):
    """The agent is stopping; the transfer stays in its journalled state and resumes next start."""


class Remote:
    """Runs ``op(session)`` for a Link with retries; one instance per sender or receiver."""

    def __init__(self, pool, stop: asyncio.Event, *, base: float = 1.0, cap: float = 60.0, attempts: int = 8):
        self.pool, self.stop = pool, stop
        self.base, self.cap, self.attempts = base, cap, attempts

    async def run(self, link: Link, op: Callable[[Any], Awaitable[T]], *, refused_too: bool = False) -> T:
        """Run ``op`` on the account's connection; network errors (and, if asked, refusals) are retried."""
        from sf1630.transport.backoff import next_delay, should_retry

        also = (RemoteRefused,) if refused_too else ()
        for attempt in range(self.attempts):
            check_current()  # a process that lost the lease of this work must not act (issue #21)
            try:
                async with self.pool.session(link.endpoint, link.credentials) as session:
                    return await op(session)
            except Sf1630Error as exc:
                if attempt + 1 >= self.attempts or not should_retry(exc, also):
                    raise
                delay = next_delay(attempt, base=self.base, cap=self.cap)
                log.info("%s: %s; retry %d in %.2f s", link.name, exc, attempt + 1, delay)
                await self.pause(delay)
        raise AssertionError("unreachable")

    async def pause(self, seconds: float) -> None:
        """Sleep, but raise Stopped at once when the agent stops."""
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            return
        raise Stopped()
