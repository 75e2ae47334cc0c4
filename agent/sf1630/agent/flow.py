"""Rounds of work over many accounts at once: the sends due now, the receives waiting now.

``sf1630 send``, ``receive``, ``run`` and ``demo`` all go through these. Municipalities run
concurrently up to ``concurrency``; each account's operations share its pooled connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sf1630.core import cron, steps
from sf1630.api import Transfer
from sf1630.journal.base import JournalTransfer
from sf1630.journal.fence import fenced
from sf1630.receive.receiver import Receiver, RoundReport
from sf1630.core.remote import Stopped, Unreachable
from sf1630.agent.cluster import Member, receive_unit, send_unit
from sf1630.agent.runtime import Runtime, Selection
from sf1630.send.sender import Sender
from sf1630.transport.privacy import error_text
from sf1630.core.specs import SendSpec
from sf1630.errors import ConfigError, Sf1630Error
from sf1630.ops.attention import SEND_FAILED, attention

log = logging.getLogger("sf1630.flow")


@dataclass
class SendSummary:
    """What a send round ended with."""

    transfers: list[Transfer] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every transfer was delivered (or had been before)."""
        return all(t.state == steps.DELIVERED for t in self.transfers)


def make_sender(rt: Runtime, stop: asyncio.Event, **kw) -> Sender:
    """A Sender on the runtime's journal, pool and spool; its work runs municipalities up to ``concurrency``."""
    cfg = rt.config
    kw.setdefault("gate", Slots(cfg.concurrency).slot)
    kw.setdefault("health", rt.health)
    kw.setdefault("give_up", rt.give_up)
    return Sender(rt.journal, rt.pool, cfg.spool, rt.emit, receipt_timeout=cfg.receipt_timeout, stop=stop, **kw)


def make_receiver(rt: Runtime, stop: asyncio.Event, **kw) -> Receiver:
    """A Receiver on the runtime's journal, pool and spool."""
    cfg = rt.config
    kw.setdefault("health", rt.health)
    kw.setdefault("give_up", rt.give_up)
    return Receiver(rt.journal, rt.pool, cfg.spool, rt.emit, grace_seconds=cfg.grace_seconds,
                    warn_days=cfg.warn_days, stop=stop, **kw)


async def resume_sends(rt: Runtime, sender: Sender, selection: Selection, member: Member | None = None) -> list[Transfer]:
    """Finish every unfinished send of the selection from its journalled state (issue #13).

    With a ``member`` (a shared journal), only the sends of the jobs this process holds, each under its fence.
    """
    specs: dict[tuple[str | None, str | None, str | None], SendSpec] = {
        (s.municipality.key, s.source.name, s.recipient_code): s for s in rt.send_specs()}
    todo = [t for t in rt.journal.transfers(kind="send", states=steps.SEND_OPEN, limit=None)
            if selection.takes(t.municipality or "", t.source) and not sender.busy(t)]
    if member is not None:
        todo = [t for t in todo if member.fence(send_unit(t.municipality, t.source, t.recipient))]

    async def one(t: JournalTransfer) -> JournalTransfer:
        link = rt.links.get(t.account)
        if link is None:
            log.error("%s: account %s is no longer configured; cannot finish it", t.file_name, t.account)
            return t
        fence = member.fence(send_unit(t.municipality, t.source, t.recipient)) if member else None
        if member is not None and fence is None:
            return t  # lost meanwhile: its new holder resumes it
        with fenced(fence):
            return await sender.resume(t, specs.get((t.municipality, t.source, t.recipient)), link)

    return list(await asyncio.gather(*(one(t) for t in todo)))


async def sweep_accounts(rt: Runtime, sender: Sender, specs: list[SendSpec]) -> None:
    """Clean-up and retention check of every sending account in ``specs`` (rules 3 and 8)."""
    links = {s.link.name: s.link for s in specs}
    for link in links.values():
        try:
            await sender.sweep(link, warn_days=rt.config.warn_days)
        except Unreachable:
            pass  # said once already, by Health
        except Sf1630Error as exc:
            log.warning("sweep of %s failed: %s", link.name, exc)
        except Stopped:  # the agent stops while a sweep waits to retry; the next start sweeps again
            return


class Slots:
    """At most ``limit`` municipalities at work at once; jobs of a municipality at work share its slot.

    When a municipality leaves, the one that has waited longest comes in with all its waiting jobs;
    no other waiter wakes (a wake-up of every waiter per departure, each to re-check and sleep again,
    cost about 4 % of a 1,470-extract send, issue #23).
    """

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self._holders: dict[str, int] = defaultdict(int)
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}  # in order of arrival

    @asynccontextmanager
    async def slot(self, municipality: str) -> AsyncIterator[None]:
        """Hold a slot for ``municipality`` while the block runs."""
        if municipality in self._holders or len(self._holders) < self.limit:
            self._holders[municipality] += 1
        else:
            await self._wait(municipality)
        try:
            yield
        finally:
            self._leave(municipality)

    async def _wait(self, municipality: str) -> None:
        """Wait until ``_leave`` lets ``municipality`` in; it counts this job as holding by then."""
        fut = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(municipality, []).append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # let in, but cancelled before it ran: hand it back
                self._leave(municipality)
            else:
                waiters = self._waiting.get(municipality, [])
                if fut in waiters:
                    waiters.remove(fut)
                    if not waiters:
                        del self._waiting[municipality]
            raise

    def _leave(self, municipality: str) -> None:
        self._holders[municipality] -= 1
        if self._holders[municipality]:
            return
        del self._holders[municipality]
        while self._waiting and len(self._holders) < self.limit:
            first = next(iter(self._waiting))
            waiters = self._waiting.pop(first)
            self._holders[first] += len(waiters)
            for fut in waiters:
                fut.set_result(None)


async def send_specs(sender: Sender, specs: list[SendSpec], *, when: datetime | None = None,
                     member: Member | None = None, **send: Any) -> list[Transfer]:
    """Send each spec's extract; the sender's gate bounds how many municipalities work at once.

    ``send`` goes to :meth:`Sender.send` (``period``, ``resend_reason``, ``resend_by``). With a
    ``member``, each job under the fence of its unit; a job whose unit is not held is left out.
    """
    async def one(spec: SendSpec) -> Transfer | None:
        fence = member.fence(spec_unit(spec)) if member else None
        if member is not None and fence is None:
            log.warning("%s: not sent: another process holds the job now; ask again", spec.label)
            return None
        with fenced(fence):
            return await sender.send(spec, when=when, **send)

    return [t for t in await asyncio.gather(*(one(spec) for spec in specs)) if t is not None]


def spec_unit(spec: SendSpec) -> str:
    """The unit of work of a send job."""
    return send_unit(spec.municipality.key, spec.source.name, spec.recipient_code)


async def send_round(rt: Runtime, selection: Selection, stop: asyncio.Event, *, when: datetime | None = None,
                     sender: Sender | None = None, member: Member | None = None, **send: Any) -> SendSummary:
    """Resume unfinished sends, clean up, then send every selected job now (``sf1630 send``).

    ``send`` goes to :meth:`Sender.send`: ``period``, and ``resend_reason``/``resend_by`` for a resend.
    Given a ``sender`` (a running service's), it is used and left open, and the service sweeps itself.
    """
    own = sender is None
    sender = sender or make_sender(rt, stop)
    try:
        specs = rt.send_specs(selection)
        resumed = await resume_sends(rt, sender, selection, member)
        if own:
            await sweep_accounts(rt, sender, specs)
        sent = await send_specs(sender, specs, when=when, member=member, **send)
    finally:
        if own:
            await sender.close()
    fresh = {t.id for t in sent}
    return SendSummary([*(t for t in resumed if t.id not in fresh), *sent])


def catch_up_periods(rt: Runtime, spec: SendSpec, now: datetime, since: str | None = None) -> list[str]:
    """The periods ``send --catch-up`` sends for ``spec``, oldest first (issue #17).

    Without ``since``: every period whose last send failed and was not delivered since, and the
    current one. With ``since``: every period from ``since`` to the current one, by the job's schedule.
    Periods already delivered or under way are skipped by the sender itself.
    """
    current = spec.source.period(now)
    if since is None:
        failed = [a for a in attention(rt.journal, now.timestamp()) if a.kind == SEND_FAILED
                  and (a.municipality, a.source) == (spec.municipality.key, spec.source.name)]
        sends = (rt.journal.get_id(int(a.ref.split(":")[1])) for a in failed)
        periods = [t.period for t in sends if t is not None]
        return list(dict.fromkeys([*(p for p in periods if p), current]))
    expr, fire, found = spec.schedule or spec.source.schedule, now, [current]
    wanted = steps.covered_period(since, now)
    for _ in range(1000):
        if steps.covered_period(found[-1], now) == wanted:
            return list(dict.fromkeys(reversed(found)))
        fire = cron.prev_time(expr, fire - timedelta(minutes=1))  # the fire time before this one
        found.append(spec.source.period(fire))
    raise ConfigError(f"--since {since}: no such period of {spec.label} in its last 1000 scheduled runs "
                      f"({expr}); write a period as in the file names, e.g. {current}")


async def catch_up(rt: Runtime, selection: Selection, stop: asyncio.Event, *, since: str | None = None,
                   when: datetime | None = None, sender: Sender | None = None,
                   member: Member | None = None) -> SendSummary:
    """``sf1630 send --catch-up``: resume, then send every period of each job not yet delivered, in order."""
    own = sender is None
    sender = sender or make_sender(rt, stop)
    now = when or datetime.now()
    try:
        specs = rt.send_specs(selection)
        resumed = await resume_sends(rt, sender, selection, member)

        async def one(spec: SendSpec) -> list[Transfer]:
            periods = catch_up_periods(rt, spec, now, since)
            return [t for p in periods for t in await send_specs(sender, [spec], when=now, member=member, period=p)]

        sent = [t for ts in await asyncio.gather(*(one(s) for s in specs)) for t in ts]
    finally:
        if own:
            await sender.close()
    fresh = {t.id for t in sent}
    return SendSummary([*(t for t in resumed if t.id not in fresh), *sent])


async def receive_round(rt: Runtime, receiver: Receiver, selection: Selection,
                        member: Member | None = None) -> list[RoundReport]:
    """One receive round over every selected account, municipalities concurrently up to ``concurrency``.

    With a ``member`` (a shared journal), only the accounts this process holds, each under its fence.
    """
    limit = asyncio.Semaphore(rt.config.concurrency)

    async def one(spec) -> RoundReport | None:
        fence = member.fence(receive_unit(spec.link.name)) if member else None
        if member is not None and fence is None:
            return None  # another process holds this account
        async with limit:
            stuck = f"receive:{spec.link.name}"
            try:
                with fenced(fence):
                    report = await receiver.receive(spec)
                await receiver.got_on(stuck)
                return report
            except Unreachable as exc:  # said once already, by Health
                log.info("receiving for %s not done: %s", spec.link.name, exc)
                return RoundReport(spec.link.name, error=str(exc))
            except Sf1630Error as exc:
                log.error("receiving for %s failed: %s; retried next round", spec.link.name, exc)
                await receiver.stuck(stuck, f"receiving for {spec.link.name} failed: {error_text(exc)}",
                                     municipality=spec.municipality.key, account=spec.link.name)
                return RoundReport(spec.link.name, error=str(exc))
            except Stopped:  # stopped while waiting to retry the account; the next start reads it
                return RoundReport(spec.link.name, error="stopped before the account could be read; "
                                                          "it is read on the next run")

    reports = await asyncio.gather(*(one(s) for s in rt.receive_specs(selection)))
    return [r for r in reports if r is not None]
