"""Waiting for technical receipts: one watcher per sending account lists its IN/ for everyone.

Many sends of one account wait at once; one listing of IN/ serves them all, on the account's
reused connection. Listings come fast while receipts are expected (the simulator answers in
milliseconds) and slow down while nothing arrives (``steps.receipt_poll_delay``).
"""

from __future__ import annotations

import asyncio
import logging

from sf1630.errors import HostKeyError, TransportError
from sf1630.core.specs import Link
from sf1630.core.steps import receipt_poll_delay

log = logging.getLogger("sf1630.sender")


class ReceiptWatcher:
    """Lists ``IN/`` of one account while someone waits for a receipt there."""

    def __init__(self, pool, link: Link, *, cap: float = 2.0):
        self._pool, self._link, self._cap = pool, link, cap
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wait(self, name: str) -> asyncio.Future[bytes]:
        """A future for the content of ``IN/<name>``; the caller deletes the receipt once it acted."""
        fut = self._waiting.get(name)
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._waiting[name] = fut
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"receipts:{self._link.name}")
        return fut

    def forget(self, name: str) -> None:
        """Stop looking for ``name`` (the waiter gave up, e.g. on shutdown)."""
        fut = self._waiting.pop(name, None)
        if fut is not None and not fut.done():
            fut.cancel()

    async def close(self) -> None:
        """Stop the watcher; pending waiters are cancelled."""
        for name in list(self._waiting):
            self.forget(name)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        waited = 0.0
        while self._pending():
            self._wake.clear()
            try:
                found = await self._scan()
            except HostKeyError as exc:  # never retried: every waiter gets the error
                self._fail_all(exc)
                return
            except TransportError as exc:
                log.warning("listing IN/ of %s failed, retrying: %s", self._link.name, exc)
                found = 0
            waited = 0.0 if found else waited
            delay = receipt_poll_delay(waited, cap=self._cap)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
                waited = 0.0  # a new waiter: its receipt comes soon
            except TimeoutError:
                waited += delay

    def _pending(self) -> bool:
        for name in [n for n, f in self._waiting.items() if f.done()]:
            del self._waiting[name]
        return bool(self._waiting)

    async def _scan(self) -> int:
        async with self._pool.session(self._link.endpoint, self._link.credentials) as session:
            sizes = {f.name: f.size for f in await session.listdir("IN")}
            ready = [n for n in self._waiting if n in sizes]
            contents = await asyncio.gather(*(session.read_bytes(f"IN/{n}", listed=sizes[n]) for n in ready),
                                            return_exceptions=True)
        for name, data in zip(ready, contents):
            fut = self._waiting.pop(name, None)
            if fut is None or fut.done():
                continue
            if isinstance(data, BaseException):
                if isinstance(data, TransportError):  # e.g. still being written: next round
                    self._waiting[name] = fut
                    continue
                fut.set_exception(data)
            else:
                fut.set_result(data)
        return len(ready)

    def _fail_all(self, exc: BaseException) -> None:
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(exc)
        self._waiting.clear()
