"""Fencing: work done under a lease carries the lease's token, and loses the right to act with it.

Several processes share a PostgreSQL journal (issue #21); each unit of work (a receiving account,
a send job) is leased to one of them, with an epoch that grows on every takeover. The work runs
with its ``Fence`` in a context variable (``asyncio.to_thread`` carries it into the journal's
threads): every journal write under it checks the epoch in the same transaction, and every remote
action first checks that the lease was renewed recently enough (``check``). A process stopped
longer than its lease wakes up unable to do either: it drops the unit instead of acting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sf1630.journal.base import JournalError


class LeaseLost(JournalError):
    """This process no longer holds the lease of the unit it worked on; another one took it over."""


@dataclass
class Fence:
    """The lease of one unit as its holder knows it: its epoch and until when it may act locally."""

    unit: str
    holder: str
    epoch: int
    valid_until: float = 0.0  # time.monotonic(); a stopped process sees it passed when it wakes
    lost: bool = field(default=False)

    def check(self) -> None:
        """Raise ``LeaseLost`` unless the lease is held and was renewed recently enough."""
        if self.lost or time.monotonic() > self.valid_until:
            self.lost = True  # once lost, never regained: a new lease is a new Fence
            raise LeaseLost(f"{self.unit}: this process lost its lease (epoch {self.epoch}); another process "
                            "continues the work from the journal")


_CURRENT: ContextVar[Fence | None] = ContextVar("sf1630_fence", default=None)


def current() -> Fence | None:
    """The fence of the work running here, None outside leased work."""
    return _CURRENT.get()


def check_current() -> None:
    """Check the current fence, if any (before an action on the server)."""
    fence = _CURRENT.get()
    if fence is not None:
        fence.check()


@contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Run the block (and the threads and tasks it starts) under ``fence``."""
    token = _CURRENT.set(fence)
    try:
        yield
    finally:
        _CURRENT.reset(token)
