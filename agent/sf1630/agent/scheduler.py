"""``sf1630 run``: every send on its cron schedule, every receiving account every poll_interval.

A missed run counts once: a job whose schedule fired while the agent was down runs at start
(measured from its last journalled send; a job never sent waits for its first fire time). The
loops stop when ``stop`` is set (SIGTERM/SIGINT): the current step finishes and is journalled,
and what is unfinished resumes on the next start.

On a shared journal (PostgreSQL, issue #21) several processes run the same jobs: each works only
on the units it holds a lease of (``cluster.Member``), under that lease's fence, and resumes a
unit's unfinished sends as soon as it takes the unit over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sf1630.core import cron, steps
from sf1630.errors import Sf1630Error
from sf1630.agent.cluster import UPKEEP, Member, receive_unit, send_unit
from sf1630.agent.inbox import Inbox
from sf1630.agent.flow import make_receiver, make_sender, receive_round, resume_sends, sweep_accounts
from sf1630.core.remote import Stopped
from sf1630.journal.fence import fenced
from sf1630.agent.runtime import Runtime, Selection
from sf1630.send.sender import Sender
from sf1630.core.specs import SendSpec
from sf1630.receive.expect import MissingWatch, expectations

log = logging.getLogger("sf1630.scheduler")

SWEEP_INTERVAL = 3600.0  # clean-up and retention check of sending accounts (rules 3 and 8)
RESUME_INTERVAL = 60.0  # how soon a send left unfinished (network down) is tried again
MAX_SLEEP = 60.0  # re-check the clock at least this often (suspend, clock changes)


def seconds_until(expr: str, last_run: datetime, now: datetime) -> float:
    """Seconds from ``now`` until ``expr`` next fires after ``last_run`` (0 when already due)."""
    return max(0.0, (cron.next_time(expr, last_run) - now).total_seconds())


RETRY_CAP = 6 * 3600.0  # a failed period is tried at least this often


def retry_delay(attempts: int, first: float) -> float:
    """Seconds before retry number ``attempts`` (1 = first) of a failed period: doubling from ``first``."""
    return min(RETRY_CAP, first * 2 ** max(0, attempts - 1))


class Retry:
    """The failed period of one send job, retried with backoff until delivered (issue #17).

    The common cause is a route KOMBIT has not set up yet (error receipt 401): once it exists, the
    next retry delivers. Only the latest failed period is retried here; ``send --catch-up`` sends
    any older one. The failure alert is keyed by the period, so it is sent once.
    """

    def __init__(self, period: str | None, config: Any):
        self.period, self.attempts = period, 0
        self.first = getattr(config, "retry_failed_seconds", 300.0)
        self.at = time.monotonic() if period else None

    def due(self) -> bool:
        """Whether a retry is due now."""
        return self.at is not None and time.monotonic() >= self.at

    def wait(self) -> float:
        """Seconds until the next retry (MAX_SLEEP when none is pending)."""
        return MAX_SLEEP if self.at is None else max(0.0, self.at - time.monotonic())

    def after(self, spec: SendSpec, t: Any) -> None:
        """Note the outcome of a send: a failure schedules a retry of its period, a delivery ends it."""
        if t.state in steps.SEND_FAILED:
            self.attempts = self.attempts + 1 if t.period == self.period else 1
            self.period = t.period
            delay = retry_delay(self.attempts, self.first)
            self.at = time.monotonic() + delay
            log.warning("%s: period %s failed (%s); retried in %.0f s", spec.label, t.period, t.error, delay)
        elif t.state == steps.DELIVERED and t.period == self.period:
            self.period, self.attempts, self.at = None, 0, None


class Scheduler:
    """Runs the configured jobs until ``stop`` is set."""

    def __init__(self, rt: Runtime, stop: asyncio.Event, *, selection: Selection | None = None,
                 clock: Callable[[], datetime] = datetime.now, lease_seconds: float = 20.0):
        self.rt, self.stop, self.clock = rt, stop, clock
        self.selection = selection or Selection()
        self.started = clock()
        self.member = Member(rt.journal, ttl=lease_seconds, units=self._units) if rt.journal.shared else None
        self._sends: dict[tuple[str, str, str | None], tuple[SendSpec, asyncio.Event]] = {}
        self._tasks: set[asyncio.Future] = set()
        self._failed: list[BaseException] = []
        self._receiving = False

    def _units(self) -> list[str]:
        """The units of work of this site: send jobs, receiving accounts, and the upkeep."""
        sends = [send_unit(s.municipality.key, s.source.name, s.recipient_code) for s in self.rt.send_specs(self.selection)]
        receives = [receive_unit(s.link.name) for s in self.rt.receive_specs(self.selection)]
        return [*sends, *receives, UPKEEP]

    async def run(self) -> None:
        """Resume unfinished work, then run every loop until stopped."""
        self.rt.give_up = None  # a service keeps trying an unreachable platform; it alerts instead
        sender = make_sender(self.rt, self.stop)
        receiver = make_receiver(self.rt, self.stop, quarantine_backoff=True)
        self._sender, self._receiver = sender, receiver
        specs = self.rt.send_specs(self.selection)
        done = asyncio.Event()  # the work has stopped: only then are the leases given back
        membership = asyncio.create_task(self.member.run(done)) if self.member else None
        try:
            loops = [self._upkeep_loop(sender), Inbox(self.rt, self.stop, sender, receiver, self.member).run(),
                     self._jobs()]
            for spec in specs:
                self._start_send(spec)
            if self.rt.receive_specs(self.selection):
                self._start_receive()
            log.info("running %d send job(s) and %d receiving account(s)%s", len(specs),
                     len(self.rt.receive_specs(self.selection)),
                     f" as {self.member.record.id}, sharing them with the site's other processes" if self.member else "")
            await asyncio.gather(*(self._until_stopped(loop) for loop in loops))
        finally:
            await sender.close()
            done.set()
            if membership is not None and self.member is not None:
                await membership
                await asyncio.to_thread(self.member.leave)
        log.info("stopped")

    # -- jobs that come and go (reload) -------------------------------------------------
    def _start_send(self, spec: SendSpec) -> None:
        retired = asyncio.Event()
        task = asyncio.ensure_future(self._until_stopped(self._send_loop(self._sender, spec, retired)))
        self._sends[job_key(spec)] = (spec, retired)
        self._track(task)

    def _start_receive(self) -> None:
        self._receiving = True
        self._track(asyncio.ensure_future(self._until_stopped(self._receive_loop(self._receiver))))

    def _track(self, task: asyncio.Future) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._failed.append(error)
            self.stop.set()  # a loop that crashed stops the service, which says why

    async def _jobs(self) -> None:
        """Wait for the job loops: until stopped, then until each has finished its step."""
        await self.stop.wait()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._failed:
            raise self._failed[0]

    def apply(self, config: Any) -> str:
        """Run the jobs of a new ``config``: start new and changed jobs, retire removed and changed ones.

        A retired job finishes the step it is in (nothing in flight is dropped); what it leaves
        unfinished is resumed by the upkeep loop. Returns what changed, for the log.
        """
        self.rt.reconfigure(config)
        new = {job_key(s): s for s in self.rt.send_specs(self.selection)}
        gone = [k for k, (spec, _) in self._sends.items() if k not in new or _schedule(new[k]) != _schedule(spec)]
        for key in gone:
            self._sends.pop(key)[1].set()
        added = [k for k in new if k not in self._sends]
        for key in added:
            self._start_send(new[key])
        if not self._receiving and self.rt.receive_specs(self.selection):
            self._start_receive()
        return f"{len(added)} send job(s) started, {len(gone)} retired, {len(new)} running"

    async def _until_stopped(self, loop: Awaitable[None]) -> None:
        """Run one loop; a stop that reaches it while a step waits to retry ends it quietly (issue #25)."""
        try:
            await loop
        except Stopped:
            log.info("a loop stopped while waiting to retry; its work resumes on the next start")

    async def _send_loop(self, sender: Sender, spec: SendSpec, retired: asyncio.Event) -> None:
        if self.member is not None:
            return await self._shared_send_loop(sender, spec, self.member, retired)
        expr = spec.schedule or spec.source.schedule
        last = self._last_send(spec) or self.started
        retry = Retry(self._failed_period(spec), self.rt.config)  # a period failed before a restart too
        while not self.stop.is_set() and not retired.is_set():
            wait = seconds_until(expr, last, self.clock())
            if wait <= 0:
                last = self.clock()
                t = await sender.send(spec, when=last)
                log.info("%s: %s is %s; next run %s", spec.label, t.file_name, t.state, cron.next_time(expr, last))
            elif retry.due():
                t = await sender.send(spec, when=self.clock(), period=retry.period)
                log.info("%s: retry %d of period %s: %s is %s", spec.label, retry.attempts, retry.period,
                         t.file_name, t.state)
            else:
                await self._sleep(min(wait, retry.wait(), MAX_SLEEP), retired)
                continue
            retry.after(spec, t)

    def _failed_period(self, spec: SendSpec) -> str | None:
        """The period of this job's latest send when that send failed (error receipt), else None."""
        sends = [t for t in self.rt.journal.transfers(kind="send", municipality=spec.municipality.key,
                                                  source=spec.source.name, limit=None)
                 if t.recipient == spec.recipient_code]
        latest = max(sends, key=lambda t: t.created_at, default=None)
        return latest.period if latest is not None and latest.state in steps.SEND_FAILED else None

    async def _shared_send_loop(self, sender: Sender, spec: SendSpec, member: Member,
                                retired: asyncio.Event) -> None:
        """The send loop on a shared journal: only while this process holds the job's lease.

        The last send is read from the journal each time, since another process may have sent;
        a stale holder cannot send twice: its claim of the transfer is a fenced write.
        """
        expr, unit = spec.schedule or spec.source.schedule, send_unit(spec.municipality.key, spec.source.name,
                                                                      spec.recipient_code)
        while not self.stop.is_set() and not retired.is_set():
            fence = member.fence(unit)
            if fence is None:
                await self._sleep(member.interval, retired)
                continue
            last = self._last_send(spec) or self.started
            wait = seconds_until(expr, last, self.clock())
            if wait > 0:
                await self._sleep(min(wait, MAX_SLEEP, member.interval), retired)
                continue
            try:
                with fenced(fence):
                    t = await sender.send(spec, when=self.clock())
                log.info("%s: %s is %s", spec.label, t.file_name, t.state)
            except Sf1630Error as exc:
                log.error("%s: send not made now: %s", spec.label, exc)
                await self._sleep(member.interval, retired)

    def _last_send(self, spec: SendSpec) -> datetime | None:
        sends = [t for t in self.rt.journal.transfers(kind="send", municipality=spec.municipality.key,
                                                  source=spec.source.name, limit=None)
                 if t.recipient == spec.recipient_code]
        if not sends:
            return None
        return datetime.fromtimestamp(max(getattr(t, "created_at", 0.0) for t in sends))

    async def _receive_loop(self, receiver) -> None:
        # Issue #14: after each round, expected extracts past their deadline fire `missing` once.
        watch = MissingWatch(self.rt.journal, self.rt.emit, clock=lambda: self.clock().timestamp())
        while not self.stop.is_set():
            expected = expectations(self.rt.config, self.rt.host, self.selection.municipalities)  # after a reload too
            reports = await receive_round(self.rt, receiver, self.selection, self.member)
            loaded = sum(len(r.loaded) for r in reports)
            if loaded:
                log.info("receive round: %d file(s) loaded", loaded)
            if expected:
                watch.check(expected)
            await self._sleep(self.rt.config.poll_interval)

    async def _upkeep_loop(self, sender: Sender) -> None:
        """Resume unfinished sends now and every minute (e.g. the network was down); sweep hourly (rules 3, 8)."""
        resuming: set[asyncio.Task] = set()
        swept = -SWEEP_INTERVAL
        while not self.stop.is_set():
            if self.rt.health is not None:
                self.rt.health.check()  # alerts once an account is unreachable too long (issue #17)
            task = asyncio.create_task(resume_sends(self.rt, sender, self.selection, self.member))  # skips busy ones
            resuming.add(task)
            task.add_done_callback(resuming.discard)
            upkeep = self.member.fence(UPKEEP) if self.member else None
            if time.monotonic() - swept >= SWEEP_INTERVAL and (self.member is None or upkeep is not None):
                swept = time.monotonic()
                try:
                    with fenced(upkeep):
                        await sweep_accounts(self.rt, sender, self.rt.send_specs(self.selection))
                except Sf1630Error as exc:
                    log.warning("sweep failed: %s", exc)
            await self._upkeep_pause()
        await asyncio.gather(*resuming, return_exceptions=True)

    async def _upkeep_pause(self) -> None:
        """Until the next resume round: a minute, or at once when this process took units over."""
        if self.member is None:
            return await self._sleep(RESUME_INTERVAL)
        gained = asyncio.ensure_future(self.member.gained.wait())
        sleep = asyncio.ensure_future(self._sleep(min(RESUME_INTERVAL, self.rt.config.poll_interval)))
        try:
            await asyncio.wait([gained, sleep], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gained.cancel()
            sleep.cancel()
        self.member.gained.clear()

    async def _sleep(self, seconds: float, retired: asyncio.Event | None = None) -> None:
        waits = [asyncio.ensure_future(e.wait()) for e in (self.stop, retired) if e is not None]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()


def job_key(spec: SendSpec) -> tuple[str, str, str | None]:
    """A send job across reloads: municipality, source, recipient."""
    return (spec.municipality.key, spec.source.name, spec.recipient_code)


def _schedule(spec: SendSpec) -> tuple[Any, ...]:
    """What a reload may change in a job; a job whose settings changed is restarted."""
    return (spec.schedule or spec.source.schedule, spec.link, spec.options, spec.routing, spec.recipients,
            spec.route, spec.file_type)
