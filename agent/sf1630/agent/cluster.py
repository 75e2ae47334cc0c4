"""One process among several on a shared journal (issue #21): who it is, which units it holds.

Every ``lease_seconds / 4`` the member says it is alive, renews its leases and takes free or
expired units up to its fair share (units over live processes, rounded up). A unit it gained
is announced through ``gained``, so its unfinished transfers are resumed at once; a lease it
lost (it was stopped, or the database was away too long) makes the work of that unit fail its
next check instead of acting. On a clean stop it gives every unit back at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from sf1630 import __version__
from sf1630.errors import Sf1630Error
from sf1630.journal.fence import Fence
from sf1630.journal.leases import Leases, fair_share
from sf1630.journal.processes import ProcessRecord, heartbeat, processes, stopped

log = logging.getLogger("sf1630.cluster")

UPKEEP = "upkeep"  # the unit of site-wide chores: sweeping sending accounts


def send_unit(municipality: str | None, source: str | None, recipient: str | None) -> str:
    """The unit of one send job."""
    return f"send:{municipality or ''}:{source or ''}:{recipient or ''}"


def receive_unit(account: str) -> str:
    """The unit of one receiving account."""
    return f"receive:{account}"


class Member:
    """This process's membership of the site: its row in ``processes`` and its leases."""

    def __init__(self, journal, *, ttl: float = 20.0, units: Callable[[], list[str]] = list):
        self.journal, self.ttl, self.units = journal, ttl, units
        host = socket.gethostname()
        self.record = ProcessRecord(id=f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}", host=host, pid=os.getpid(),
                                    version=__version__, started_at=time.time(), seen_at=time.time())
        self.leases = Leases(journal, self.record.id, ttl)
        self.gained = asyncio.Event()

    @property
    def interval(self) -> float:
        """Seconds between renewals."""
        return self.ttl / 4

    def fence(self, unit: str) -> Fence | None:
        """The fence of ``unit`` while this process holds it."""
        return self.leases.held(unit)

    async def run(self, done: asyncio.Event) -> None:
        """Keep the membership (and the leases) until ``done``: the work has stopped, then ``leave``."""
        try:
            await asyncio.to_thread(heartbeat, self.journal, self.record)
        except Sf1630Error as exc:
            log.warning("cannot register this process: %s", exc)
        await _sleep(done, self.interval)  # let processes started together see each other first
        while not done.is_set():
            try:
                if await asyncio.to_thread(self.tick):
                    self.gained.set()
            except Sf1630Error as exc:  # the database is away: leases run out locally, work stops
                log.warning("cannot renew leases: %s", exc)
            await _sleep(done, self.interval)

    def tick(self) -> list[str]:
        """One round: alive, renew, take a fair share of the free units."""
        heartbeat(self.journal, self.record)
        for unit in self.leases.renew():
            log.warning("lost the lease of %s; another process continues its work", unit)
        units = self.units()
        live = [p for p in processes(self.journal, since=time.time() - self.ttl) if p.stopped_at is None]
        want = fair_share(len(units), len(live) or 1) - len(self.leases.fences)
        free = [u for u in units if u not in self.leases.fences]
        taken = self.leases.acquire(free, want)
        if taken:
            log.info("took over %s", ", ".join(sorted(taken)))
        return taken

    def leave(self) -> None:
        """Give every unit back and say this process stopped (errors only logged: it is stopping)."""
        try:
            self.leases.release()
            stopped(self.journal, self.record.id)
        except Sf1630Error as exc:
            log.warning("could not give the leases back (they expire in %.0f s): %s", self.ttl, exc)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
