"""What the sender and the receiver share: journalled steps, the transfers in hand, the spool sweep, and
the work that is stuck for a local reason (a ``work_stuck`` problem, shown by ``status`` until it gets on).

Both drive transfers one journalled step at a time over a shared connection pool. Each keeps the
keys of the transfers it is driving, so that a resume round or a second look at the server never
takes one twice, and removes local copies of finished transfers that a crash left in the spool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sf1630.core import steps
from sf1630.core.health import Health
from sf1630.core.remote import Remote
from sf1630.core.spool import Spool
from sf1630.events import Emit
from sf1630.journal.base import WORK_STUCK, Journal, JournalTransfer
from sf1630.transport import blocking
from sf1630.transport.pool import Pool


class Driver:
    """The journal, pool, spool and remote of one sender or receiver, and the transfers it drives now."""

    def __init__(self, journal: Journal, pool: Pool, spool: Path, emit: Emit, *, stop: asyncio.Event | None,
                 retry_base: float, retry_cap: float, attempts: int, give_up: float | None,
                 health: Health | None):
        self.journal, self.pool, self.emit = journal, pool, emit
        self.spool = Spool(spool)
        self.stop = stop or asyncio.Event()
        self.remote = Remote(pool, self.stop, base=retry_base, cap=retry_cap, attempts=attempts, give_up=give_up,
                             health=health)
        self._active: set[str] = set()  # journal keys of the transfers being driven now
        self._stuck: set[str] | None = None  # keys with an open work_stuck problem, read once

    def busy(self, t: JournalTransfer) -> bool:
        """Whether this process is driving ``t`` right now (then nothing else may take it up)."""
        return t.key in self._active

    @contextmanager
    def driving(self, key: str) -> Iterator[None]:
        """Mark the transfer with journal key ``key`` as in hand while the block runs."""
        self._active.add(key)
        try:
            yield
        finally:
            self._active.discard(key)

    async def _move(self, t: JournalTransfer, state: str, **fields: Any) -> JournalTransfer:
        # In a worker thread: the commit waits for the disk; the loop waits with it only while commits are quick.
        t = await blocking.call(self.journal.move, t.id, state, **fields)
        steps.crash_point(state)
        return t

    def _sweep_spool(self, found: Iterable[Path], key_of: Callable[[str], str], done: Collection[str],
                     discard: Callable[[Path], None]) -> None:
        """Discard each local copy in ``found`` whose transfer (journal key ``key_of(name)``) is in ``done``."""
        for path in found:
            t = self.journal.get(key_of(path.name))
            if t is not None and t.state in done:
                discard(path)

    async def stuck(self, key: str, message: str, **where: str | None) -> None:
        """Journal that the work ``key`` fails for a local reason, until :meth:`got_on` (issue #17)."""
        await blocking.call(self.journal.note_problem, WORK_STUCK, key, message, time.time(), **where)
        self._stuck_keys().add(key)

    async def got_on(self, key: str) -> None:
        """Close the work_stuck problem of ``key`` if there is one (no write when there is none)."""
        if key in self._stuck_keys():
            await blocking.call(self.journal.resolve_problem, WORK_STUCK, key, time.time(), "the agent (it got on)")
            self._stuck_keys().discard(key)

    def _stuck_keys(self) -> set[str]:
        if self._stuck is None:
            self._stuck = {p.key for p in self.journal.list_problems(WORK_STUCK)}
        return self._stuck
