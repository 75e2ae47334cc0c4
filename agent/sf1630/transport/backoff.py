"""Retry delays (pure) and which errors are worth a retry.

The delay calculation is kept apart from the sleeping, as rclone's pacer does, so the
policy can be tested without a clock. Locked names (PROTOCOL rule 2) are refused at the SFTP
level and retried with backoff: callers pass ``also=(RemoteRefused,)`` for those.
"""

from __future__ import annotations

import random

from sf1630.errors import HostKeyError, RemoteMissing, RemoteRefused, TransportError

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


def should_retry(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``exc`` is worth another attempt: TransportError, except the never-retried kinds."""
    if also and isinstance(exc, also):
        return True
    return isinstance(exc, TransportError) and not isinstance(exc, NOT_RETRIED)
