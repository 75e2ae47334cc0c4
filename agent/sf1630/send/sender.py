"""The sender: extract, data file, trigger, receipt -- each step journalled before the next.

Per due (municipality, source, recipient, period) it claims a journal row, writes the extract to the
spool, uploads the data file and then the trigger (both atomic), waits for the technical receipt,
acts on it and deletes it (PROTOCOL.md rule 3). After a crash, :meth:`Sender.resume` finishes every
unfinished send from its journalled state and a look at the server; an extract that was delivered is
never uploaded again (issue #13).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from sf1630.api import ExtractError, Job
from sf1630.core import steps
from sf1630.core.driver import Driver
from sf1630.core.health import Health
from sf1630.core.remote import Stopped, Unreachable
from sf1630.core.specs import Link, SendSpec
from sf1630.core.steps import SendStep
from sf1630.documents.receipt import parse_receipt
from sf1630.errors import DocumentError, Sf1630Error
from sf1630.events import Delivered, Emit, Failed, ReceiptOverdue, RetentionWarning
from sf1630.journal.base import Journal, JournalTransfer
from sf1630.send.outbound import build_send_trigger, earlier_note, fresh_name, job_of, send_details
from sf1630.send.receipts import ReceiptWatcher
from sf1630.send.uploads import data_name, drop_parts, list_both, part_name
from sf1630.transport import blocking
from sf1630.transport.pool import Pool
from sf1630.transport.privacy import error_text
from sf1630.transport.sftp import Session

log = logging.getLogger("sf1630.sender")


class Sender(Driver):
    """Sends extracts for many accounts at once over a shared connection pool."""

    def __init__(self, journal: Journal, pool: Pool, spool: Path, emit: Emit, *, receipt_timeout: float = 600.0,
                 retry_base: float = 1.0, retry_cap: float = 60.0, attempts: int = 8,
                 stop: asyncio.Event | None = None,
                 gate: Callable[[str], AbstractAsyncContextManager[Any]] | None = None,
                 give_up: float | None = None, health: Health | None = None):
        super().__init__(journal, pool, spool, emit, stop=stop, retry_base=retry_base, retry_cap=retry_cap,
                         attempts=attempts, give_up=give_up, health=health)
        self.receipt_timeout = receipt_timeout
        # gate(municipality) bounds the work (extract, uploads) running at once; see flow.Slots.
        self.gate = gate or (lambda municipality: contextlib.nullcontext())
        self._watchers: dict[str, ReceiptWatcher] = {}
        self._warned: set[tuple[str, str, str]] = set()

    # -- what is due -------------------------------------------------------------------
    def already_sent(self, spec: SendSpec, period: str, when: datetime | None = None) -> JournalTransfer | None:
        """The send of the same extract that did not fail, if any (never uploaded twice, issue #13).

        ``when`` is when the new one would be made (default now): ``M03`` of next year is another extract.
        """
        covered = steps.covered_period(period, when or datetime.now())
        for t in self.journal.transfers(kind="send", municipality=spec.municipality.key, source=spec.source.name,
                                   limit=None):
            if t.recipient != spec.recipient_code or t.state in steps.SEND_FAILED or not t.period:
                continue
            if steps.covered_period(t.period, _made(t)) == covered:
                return t
        return None

    def plan(self, spec: SendSpec, when: datetime, period: str | None = None) -> tuple[Job, str]:
        """The job and data file name a send made at ``when`` would have (nothing is written).

        ``period`` overrides the period the source derives from ``when`` (a resend of an older one).
        """
        period = period or spec.source.period(when)
        job = Job(municipality=spec.municipality, source=spec.source.code, recipient=spec.recipient_code,
                  period=period, created=when, options=spec.options)
        return job, spec.source.file_name(job)

    # -- a new send --------------------------------------------------------------------
    async def send(self, spec: SendSpec, *, when: datetime | None = None, period: str | None = None,
                   resend_reason: str | None = None, resend_by: str | None = None) -> JournalTransfer:
        """Send ``spec``'s extract for the period of ``when`` (default now), unless already sent.

        ``resend_reason`` makes a new, distinct delivery of a period already sent (issue #14): a new timestamp,
        file name and SendersFileId; the reason and ``resend_by`` are journalled. Returns the journalled
        transfer (delivered, failed, or unfinished when stopped or offline)."""
        when = (when or datetime.now()).replace(microsecond=0)
        job, name = self.plan(spec, when, period)
        earlier = self.already_sent(spec, job.period, when)
        if earlier is not None and resend_reason is None:
            note = earlier_note(earlier)
            log.info("%s: %s for %s %s; not sent again", spec.label, spec.source.code, job.period, note)
            return earlier
        job, name = fresh_name(lambda at: self.plan(spec, at, period), when, self._taken(spec.link.name))
        key = steps.send_key(spec.link.name, name)
        with self.driving(key):  # no await since the check: no resume round nor other send takes it
            t, _ = await blocking.call(
                self.journal.claim, "send", key, municipality=spec.municipality.key, source=spec.source.name,
                account=spec.link.name, file_name=name, period=job.period, recipient=spec.recipient_code,
                details=send_details(spec, job, resend_reason, resend_by))
            return await self._guarded(t, spec, steps.next_send_step(t.state), spec.link)

    def _taken(self, account: str) -> Callable[[str], bool]:
        """Whether a data file name of ``account`` is journalled or being claimed by a send now."""
        return lambda name: (steps.send_key(account, name) in self._active
                             or self.journal.get(steps.send_key(account, name)) is not None)

    # -- after a crash -----------------------------------------------------------------
    async def resume(self, t: JournalTransfer, spec: SendSpec | None, link: Link) -> JournalTransfer:
        """Finish an unfinished send from its journalled state and what the server holds."""
        if self.busy(t):
            return t
        with self.driving(t.key):
            try:
                await self._drop_dead_parts(t, link)
                step = await self._resume_step(t, link)
                log.info("resuming %s from %s: %s", t.file_name, t.state, step.value)
                return await self._guarded(t, spec, step, link)
            except Stopped:  # stopped while retrying the look at the server
                log.info("%s: stopped before resuming; it resumes on the next start", t.file_name)
                return t
            except Sf1630Error as exc:  # the look at the server failed; unreachable: said once for the account
                say = log.info if isinstance(exc, Unreachable) else log.error
                say("%s: cannot resume now (%s); it is retried on the next round", t.file_name, exc)
                return t

    async def _drop_dead_parts(self, t: JournalTransfer, link: Link) -> None:
        """Remove this send's temporary uploads left by a process that died (rule 3; one process per journal)."""

        async def drop(session: Session) -> None:
            mine = [f"OUT/{f.name}" for f in await session.listdir("OUT")
                    if f.name.endswith(".part") and data_name(f.name) == t.file_name]
            await drop_parts(session, mine)

        await self.remote.run(link, drop)

    async def _resume_step(self, t: JournalTransfer, link: Link) -> SendStep:
        if t.state in (steps.PLANNED, steps.EXTRACTED, steps.TRIGGER_UPLOADED):  # no need to look
            return steps.resume_send_step(t.state, local_ok=self._local_ok(t), remote_size=None,
                                          expected_size=t.size, trigger_present=False, receipt_present=False)
        name = t.file_name

        async def look(session: Session) -> tuple[bool, bool, int | None]:
            trigger = await session.stat(f"OUT/{name}.trigger")  # first the trigger, then the receipt
            receipt = await session.stat(f"IN/{name}.sftpreceipt")
            data = await session.stat(f"OUT/{name}")
            return trigger is not None, receipt is not None, data.size if data else None

        trigger, receipt, remote = await self.remote.run(link, look)
        return steps.resume_send_step(t.state, local_ok=self._local_ok(t), remote_size=remote,
                                      expected_size=t.size, trigger_present=trigger, receipt_present=receipt)

    def _local_ok(self, t: JournalTransfer) -> bool:
        path = self.spool.outgoing(t.account, t.file_name)
        return path.exists() and (t.size is None or path.stat().st_size == t.size)

    # -- the steps ---------------------------------------------------------------------
    async def _guarded(self, t: JournalTransfer, spec: SendSpec | None, step: SendStep, link: Link) -> JournalTransfer:
        try:
            done = await self._drive(t, spec, link, step)
            await self.got_on(t.key)
            return done
        except Stopped:
            log.info("%s: stopped at %s; it resumes on the next start", t.file_name, t.state)
        except Unreachable as exc:  # said once for the account already
            log.info("%s: not finished (%s): %s; it resumes on the next send or run", t.file_name, t.state, exc)
        except Sf1630Error as exc:
            log.error("%s: not finished (%s): %s; it is retried on the next round", t.file_name, t.state, exc)
            # Shown by status until the send gets on: a cause that repeats must not hide under "waiting".
            await self.stuck(t.key, f"{t.file_name} not finished ({t.state}): {error_text(exc)}",
                             municipality=t.municipality, source=t.source, account=t.account, file_name=t.file_name)
        return self.journal.get_id(t.id) or t

    async def _drive(self, t: JournalTransfer, spec: SendSpec | None, link: Link, step: SendStep) -> JournalTransfer:
        while step is not SendStep.DONE:
            if step is SendStep.AWAIT_RECEIPT:  # waiting is not work: it holds no slot
                t = await self._await_receipt(t, spec, link)
            else:
                async with self.gate(t.municipality or ""):
                    if self.stop.is_set():
                        raise Stopped()
                    t = await self._work(t, spec, link, step)
            step = steps.next_send_step(t.state)
        return t

    async def _work(self, t: JournalTransfer, spec: SendSpec | None, link: Link, step: SendStep) -> JournalTransfer:
        if step is SendStep.EXTRACT:
            return await self._extract(t, spec)
        if step is SendStep.UPLOAD_DATA:
            return await self._upload_data(t, link)
        return await self._upload_trigger(t, link)

    async def _extract(self, t: JournalTransfer, spec: SendSpec | None) -> JournalTransfer:
        if spec is None:
            raise Sf1630Error(f"{t.file_name}: the extract must be made again, but source {t.source!r} of "
                              f"{t.municipality!r} is no longer configured; restore it in the config")
        job = job_of(spec, t)
        path = self.spool.outgoing(t.account, t.file_name)

        def extract() -> JournalTransfer:
            # The durable extract, then its journal entry, in one trip to a worker thread (each trip
            # costs the event loop 70-120 us of CPU on the test machine).
            try:
                result, size = self.spool.write(path, lambda out: spec.source.write_extract(job, out))
            except Sf1630Error:
                raise
            except Exception as exc:  # a source's own failure: said without the values it quotes (issue #14)
                raise ExtractError(f"{t.file_name}: source {spec.source.name} failed: {error_text(exc)}") from None
            log.info("extracted %s: %d rows, %d bytes", t.file_name, result.rows, size)
            return self.journal.move(t.id, steps.EXTRACTED, size=size, rows=result.rows)

        done = await blocking.call(extract)
        steps.crash_point(steps.EXTRACTED)
        return done

    async def _upload_data(self, t: JournalTransfer, link: Link) -> JournalTransfer:
        path = self.spool.outgoing(t.account, t.file_name)
        remote, parts = f"OUT/{t.file_name}", list[str]()

        async def put(session: Session) -> None:
            parts.append(part_name(remote))
            await session.upload(path, remote, part=parts[-1])
            await drop_parts(session, parts[:-1])

        await self.remote.run(link, put)
        return await self._move(t, steps.DATA_UPLOADED)

    async def _upload_trigger(self, t: JournalTransfer, link: Link) -> JournalTransfer:
        data = build_send_trigger(t)
        remote, parts = f"OUT/{t.file_name}.trigger", list[str]()

        async def put(session: Session) -> None:
            # A retry after a lost answer: the last try may have put the trigger in place and the
            # platform taken it. A second trigger would fail ("data file missing") and its error
            # receipt would stand for a delivered extract (issue #5). Trigger first, then receipt.
            if parts and (await session.stat(remote) or await session.stat(f"IN/{t.file_name}.sftpreceipt")):
                await drop_parts(session, parts)
                return
            parts.append(part_name(remote))
            await session.write_bytes(remote, data, part=parts[-1])
            await drop_parts(session, parts[:-1])

        await self.remote.run(link, put, refused_too=True)  # a refusal is a locked name (rule 2): retried
        steps.crash_point("trigger_written")
        return await self._move(t, steps.TRIGGER_UPLOADED)

    async def _await_receipt(self, t: JournalTransfer, spec: SendSpec | None, link: Link) -> JournalTransfer:
        name = f"{t.file_name}.sftpreceipt"
        receipt, looks, started = None, 0, time.monotonic()
        while receipt is None:
            data = await self._wait_receipt(t, link, name)
            try:
                receipt = parse_receipt(data, origin=f"{link.user}:IN/{name}")
            except DocumentError as exc:
                # Still being written, or broken: no verdict either way. Failing the send would clean
                # up and later resend an extract the platform may well have delivered (issue #5).
                looks += 1
                self._unreadable(t, exc, looks, time.monotonic() - started)
                await self.remote.pause(min(30.0, 0.5 * 2 ** min(looks, 6)))
        steps.crash_point("receipt_read")
        if receipt.ok:
            return await self._delivered(t, spec, link, receipt.file_transfer_uuid)
        reason = "; ".join(f"{e.code} {e.code_description}: {e.description}" for e in receipt.errors)
        return await self._failed(t, link, reason or f"receipt message {receipt.message!r}", receipt.file_transfer_uuid,
                                  tuple(e.code for e in receipt.errors))

    def _unreadable(self, t: JournalTransfer, error: DocumentError, looks: int, waited: float) -> None:
        """Report a receipt that cannot be read: once when seen twice, and once more when overdue."""
        if looks == 2:
            log.error("%s: the receipt cannot be read (%s); the outcome is unknown, so the send stays open "
                      "until a readable receipt is there", t.file_name, error, extra={"file": t.file_name})
        elif waited > self.receipt_timeout and (t.key, "receipt", "unreadable") not in self._warned:
            self._warned.add((t.key, "receipt", "unreadable"))
            self.emit(ReceiptOverdue(transfer=t, waited=waited))

    async def _wait_receipt(self, t: JournalTransfer, link: Link, name: str) -> bytes:
        watcher = self._watchers.get(link.name)
        if watcher is None:
            watcher = self._watchers[link.name] = ReceiptWatcher(self.pool, link)
        fut = watcher.wait(name)
        started, overdue = time.monotonic(), False
        stop = asyncio.ensure_future(self.stop.wait())
        either: set[asyncio.Future[Any]] = {fut, stop}
        try:
            while True:
                timeout = None if overdue else max(0.0, started + self.receipt_timeout - time.monotonic())
                done, _ = await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if fut in done:
                    return fut.result()
                if stop in done:
                    watcher.forget(name)
                    raise Stopped()
                overdue = True
                waited = time.monotonic() - started
                log.warning("%s: no receipt after %.0f s; still waiting", t.file_name, waited)
                self.emit(ReceiptOverdue(transfer=t, waited=waited))
        finally:
            stop.cancel()

    async def _delivered(self, t: JournalTransfer, spec: SendSpec | None, link: Link, ftu: str) -> JournalTransfer:
        path = self.spool.outgoing(t.account, t.file_name)

        def deliver() -> JournalTransfer:  # one trip to a worker thread for the three (see _extract)
            if spec is not None:  # before the journal entry: at least once, so sources must be idempotent
                try:
                    spec.source.delivered(job_of(spec, t))
                except Exception:
                    log.exception("%s: source %s failed after delivery (ignored)", t.file_name, spec.source.name)
            done = self.journal.move(t.id, steps.DELIVERED, file_transfer_uuid=ftu)
            steps.crash_point(steps.DELIVERED)
            self.spool.discard(path)
            return done

        t = await blocking.call(deliver)
        log.info("delivered %s (FileTransferUUID %s)", t.file_name, ftu, extra={"file": t.file_name, "uuid": ftu})
        self.emit(Delivered(transfer=t))
        await self._tidy(link, [f"IN/{t.file_name}.sftpreceipt"])  # rule 3
        return t

    async def _failed(self, t: JournalTransfer, link: Link, reason: str, ftu: str | None,
                      codes: tuple[int, ...] = ()) -> JournalTransfer:
        details = {**(t.details or {}), "receipt_codes": list(codes)}  # the page and status read them, never the text
        t = await self._move(t, steps.FAILED, error=reason, details=details,
                             **({"file_transfer_uuid": ftu} if ftu else {}))
        log.error("delivery of %s failed: %s", t.file_name, reason, extra={"file": t.file_name})
        self.emit(Failed(transfer=t, reason=reason, codes=codes))
        await blocking.call(self.spool.discard, self.spool.outgoing(t.account, t.file_name))
        return await self._clean(t, link)

    async def _clean(self, t: JournalTransfer, link: Link) -> JournalTransfer:
        """Rule 3: after an error receipt the sender deletes its data file (and trigger) itself."""
        names = [f"OUT/{t.file_name}", f"OUT/{t.file_name}.trigger", f"IN/{t.file_name}.sftpreceipt"]
        if await self._tidy(link, names):
            t = await self._move(t, steps.CLEANED)
        return t

    async def _tidy(self, link: Link, paths: list[str]) -> bool:
        """Delete our own files; a failure is logged and left to the next sweep."""
        async def remove(session: Session) -> None:
            for path in paths:
                await session.remove(path)

        try:
            await self.remote.run(link, remove)
            return True
        except Unreachable:
            return False
        except Sf1630Error as exc:
            log.warning("could not delete %s on %s (the next sweep retries): %s", ", ".join(paths), link.name, exc)
            return False

    # -- clean-up and retention (rules 3 and 8) ---------------------------------------
    async def sweep(self, link: Link, *, warn_days: float = 20, now: float | None = None) -> None:
        """Finish clean-ups a crash interrupted and warn about our own old files on the server.

        Failed sends not yet cleaned are cleaned; receipts of finished sends are deleted; any file in
        our OUT/ or IN/ older than ``warn_days`` raises a retention warning (rule 8), once per run.
        """
        for failed in self.journal.transfers(kind="send", states=[steps.FAILED], account=link.name, limit=None):
            await self._clean(failed, link)
        self._sweep_extracts(link)
        listing = await self.remote.run(link, list_both)
        now = time.time() if now is None else now
        stale = []
        for folder, f in listing:
            key = steps.send_key(link.name, data_name(f.name))
            t = self.journal.get(key)
            if folder == "OUT" and f.name.endswith(".part") and key not in self._active:
                # Left by an upload attempt that died; on a shared journal, the part of an open send may
                # be another process's upload under way: that send's holder drops it when it resumes.
                if not (self.journal.shared and t is not None and t.state in steps.SEND_OPEN):
                    stale.append(f"{folder}/{f.name}")
                continue
            if t is not None and t.state in steps.SEND_DONE and f.name.endswith(".sftpreceipt"):
                stale.append(f"{folder}/{f.name}")
                continue
            age = steps.retention_due(f.mtime, now, warn_days)
            if age is not None and (link.name, folder, f.name) not in self._warned:
                self._warned.add((link.name, folder, f.name))
                log.warning("%s/%s on %s is %.0f days old; the platform deletes files after 30 days",
                            folder, f.name, link.name, age)
                self.emit(RetentionWarning(account=link.name, path=f"{folder}/{f.name}", age_days=age))
        if stale:
            await self._tidy(link, stale)

    def _sweep_extracts(self, link: Link) -> None:
        """Remove local extracts of finished sends (a crash may come between journal and removal)."""
        folder = self.spool.outgoing(link.name, "x").parent
        self._sweep_spool(folder.glob("*") if folder.is_dir() else (),
                          lambda name: steps.send_key(link.name, data_name(name)), steps.SEND_DONE, self.spool.discard)

    async def close(self) -> None:
        """Stop every receipt watcher."""
        for watcher in self._watchers.values():
            await watcher.close()
        self._watchers.clear()


def _made(t: JournalTransfer) -> datetime:
    """When a journalled send's extract was made (its job's time; else when it was claimed)."""
    made = (t.details or {}).get("created")
    return datetime.fromisoformat(made) if made else datetime.fromtimestamp(t.created_at)
