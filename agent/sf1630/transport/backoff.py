"""Retry delays (pure) and an async retry helper.

The delay calculation is kept apart from the sleeping, as rclone's pacer does, so the
policy can be tested without a clock. Locked names (PROTOCOL rule 2) are refused at the SFTP
level and retried with backoff: callers pass ``also=(RemoteRefused,)`` for those.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sf1630.errors import HostKeyError, RemoteMissing, RemoteRefused, TransportError

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Errors that a retry cannot fix unless the caller says otherwise.
NOT_RETRIED: tuple[type[BaseException], ...] = (HostKeyError, RemoteRefused, RemoteMissing)


def next_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0, rand: float | None = None) -> float:
    """Delay before retry number ``attempt`` (0 = first retry): exponential with full jitter.

    The ceiling doubles each attempt from ``base`` up to ``cap``; the delay is a uniform draw
    below it (``rand`` in [0, 1) makes it deterministic).
    """
    r = random.random() if rand is None else rand
    ceiling = cap if attempt >= 64 else min(cap, base * (2 ** max(attempt, 0)))
    return r * ceiling


def decorrelated_delay(previous: float, *, base: float = 1.0, cap: float = 300.0,
                       rand: float | None = None) -> float:
    """Decorrelated jitter: a draw between ``base`` and three times the previous delay, capped."""
    r = random.random() if rand is None else rand
    upper = max(base, previous * 3)
    return min(cap, base + r * (upper - base))


def should_retry(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``exc`` is worth another attempt: TransportError, except the never-retried kinds."""
    if also and isinstance(exc, also):
        return True
    return isinstance(exc, TransportError) and not isinstance(exc, NOT_RETRIED)


async def retry(operation: Callable[[], Awaitable[T]], *, attempts: int = 5, base: float = 1.0,
                cap: float = 300.0, also: tuple[type[BaseException], ...] = (),
                sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """Run ``operation`` until it succeeds, retrying what :func:`should_retry` allows.

    ``attempts`` counts every call (so 1 means no retry). The last error is raised when the
    attempts run out. ``on_retry(attempt, error, delay)`` is called before each sleep.
    """
    for attempt in range(attempts):
        try:
            return await operation()
        except BaseException as exc:
            if attempt + 1 >= attempts or not should_retry(exc, also):
                raise
            delay = next_delay(attempt, base=base, cap=cap)
            if on_retry is not None:
                on_retry(attempt + 1, exc, delay)
            else:
                log.info("retry %d/%d in %.1f s after: %s", attempt + 1, attempts - 1, delay, exc)
            await sleep(delay)
    raise AssertionError("unreachable")
