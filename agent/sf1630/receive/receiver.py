"""The receiver: metadata, download, remote delete, load -- each step journalled before the next.

Per receiving account (a LIS user of one municipality, rule 1) it lists ``IN/`` for metadata files,
downloads each data file durably into the spool, deletes data and metadata from the server at once
(rule 4), and loads the local copy through every configured sink (each idempotent by
FileTransferUUID). A load that fails keeps the copy in quarantine and is retried every round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.api import Delivery, LoadError, LoadResult
from sf1630.core import steps
from sf1630.core.driver import Driver
from sf1630.core.health import Health
from sf1630.core.remote import Stopped, Unreachable
from sf1630.core.spool import SpoolError
from sf1630.core.specs import ReceiveSpec, SinkSpec
from sf1630.core.steps import ReceiveStep
from sf1630.errors import DocumentError, RemoteMissing, Sf1630Error
from sf1630.events import (Emit, Failed, Loaded, LoadFinished, Received, RetentionWarning, SchemaChanged,
                           Stray)
from sf1630.journal.base import SCHEMA_CHANGED, UNEXPECTED_SENDER, Journal, JournalTransfer
from sf1630.receive import inbound
from sf1630.receive.inbound import Incoming, delivery_of, for_us
from sf1630.transport import blocking
from sf1630.transport.pool import Pool
from sf1630.transport.privacy import error_text
from sf1630.transport.sftp import RemoteFile, Session

log = logging.getLogger("sf1630.receiver")


@dataclass
class RoundReport:
    """What one receive round did for one account."""

    account: str
    loaded: list[JournalTransfer] = field(default_factory=list)
    quarantined: list[JournalTransfer] = field(default_factory=list)
    waiting: list[JournalTransfer] = field(default_factory=list)  # stopped or offline: resumes next round
    skipped: list[str] = field(default_factory=list)  # metadata not taken (bad, not for us, unexpected)
    named: set[str] = field(default_factory=set)  # data files the metadata seen this round name
    error: str | None = None  # the account could not be read at all this round


class Receiver(Driver):
    """Receives for many accounts at once over a shared connection pool."""

    def __init__(self, journal: Journal, pool: Pool, spool: Path, emit: Emit, *, grace_seconds: float = 3600.0,
                 warn_days: float = 20, per_account: int = 16, retry_base: float = 1.0, attempts: int = 6,
                 quarantine_backoff: bool = False, stop: asyncio.Event | None = None,
                 clock: Callable[[], float] = time.time, give_up: float | None = None, health: Health | None = None):
        super().__init__(journal, pool, spool, emit, stop=stop, retry_base=retry_base, retry_cap=60.0,
                         attempts=attempts, give_up=give_up, health=health)
        self.clock = clock
        self.grace_seconds, self.warn_days, self.per_account = grace_seconds, warn_days, per_account
        self.quarantine_backoff = quarantine_backoff  # `run` spaces out retries; `receive` retries at once
        self._reported: set[str] = set()
        self._sink_locks: dict[str, asyncio.Lock] = {}
        self._rounds: dict[str, asyncio.Lock] = {}  # one round per account at a time (service + operator)
        self._deliveries: dict[int, Delivery] = {}  # per transfer being driven: metadata parsed once

    async def receive(self, spec: ReceiveSpec) -> RoundReport:
        """One round for one account: finish what is open, then take what waits in ``IN/``.

        Rounds of one account never overlap: an operator's ``receive`` waits for the service's round.
        """
        async with self._rounds.setdefault(spec.link.name, asyncio.Lock()):
            return await self._round(spec)

    async def _round(self, spec: ReceiveSpec) -> RoundReport:
        report = RoundReport(spec.link.name)
        self._sweep_copies(spec.link.name)
        listing = await self.remote.run(spec.link, lambda s: s.listdir("IN"))
        self._settle_senders(spec.link.name, listing)
        open_ = self.journal.transfers(kind="receive", states=steps.RECEIVE_OPEN, account=spec.link.name, limit=None)
        local = [t for t in open_ if t.state != steps.SEEN and not self._resting(t)]
        metadata = [f.name for f in listing if f.name.endswith(".metadata")]
        # Sizes as listed: a document is read without the READ that would only say "end of file",
        # and a download needs no stat of its own (a request each per delivery, issue #23).
        sizes = {f.name: f.size for f in listing}
        limit = asyncio.Semaphore(self.per_account)

        async def one(job: Coroutine[Any, Any, None]) -> None:
            async with limit:
                if not self.stop.is_set():
                    await job
                else:
                    job.close()

        await asyncio.gather(*(one(self._continue(spec, t, report, listed=sizes.get(t.file_name))) for t in local),
                             *(one(self._take(spec, name, report, sizes)) for name in metadata))
        await self._check_strays(spec, listing, report, open_)
        return report

    # -- new metadata ------------------------------------------------------------------
    async def _take(self, spec: ReceiveSpec, name: str, report: RoundReport, sizes: dict[str, int]) -> None:
        link = spec.link
        report.named.add(name.removesuffix(".metadata"))
        try:
            raw = await self.remote.run(link, lambda s: s.read_bytes(f"IN/{name}", listed=sizes.get(name, 0)))
            incoming = Incoming.parse(raw, origin=f"{link.user}:IN/{name}", metadata_name=name)
        except RemoteMissing:
            return  # taken meanwhile (another round of ours)
        except DocumentError as exc:
            self._stray(link.name, f"IN/{name}", f"metadata file cannot be read, left in place: {exc}")
            report.skipped.append(name)
            return
        report.named.add(incoming.metadata.descriptor.file_name)
        problem = for_us(incoming.metadata, link.user, spec.expected_senders)
        if problem:
            sender = incoming.metadata.descriptor.sender
            unexpected = bool(spec.expected_senders) and sender not in spec.expected_senders
            self._stray(link.name, f"IN/{name}", f"{problem}; left in place", sender=sender if unexpected else None,
                        municipality=spec.municipality.key, file_name=incoming.metadata.descriptor.file_name)
            report.skipped.append(name)
            return
        md = incoming.metadata
        # The metadata is kept in the claim itself: its commit makes it durable before the download, with
        # no file of its own in the spool to create and sync (issue #23).
        details: dict[str, Any] = {"metadata_name": name, "sender": md.descriptor.sender,
                                   "metadata": inbound.kept_metadata(raw)}
        if inbound.authority_problem(md.descriptor.file_name, spec.municipality, spec.accept_authorities):
            details["foreign_authority"] = incoming.authority  # meets no expectation of ours (expect.py)
        t, created = await blocking.call(
            self.journal.claim, "receive", steps.receive_key(link.name, md.file_transfer_uuid),
            municipality=spec.municipality.key, source=incoming.source, account=link.name,
            file_name=md.descriptor.file_name, file_transfer_uuid=md.file_transfer_uuid,
            size=md.descriptor.size_in_bytes, period=incoming.period, details=details)
        if created:
            steps.crash_point(steps.SEEN)
        elif (t.details or {}).get("metadata_name") != name:
            # Another delivery under a FileTransferUUID already taken: broken or forged. Taking it would
            # load one file under the other's identity or delete it as a leftover (issue #5).
            self._stray(link.name, f"IN/{name}", f"FileTransferUUID {md.file_transfer_uuid} already belongs to "
                        f"{t.file_name} ({t.state}); left in place for someone to look at")
            report.skipped.append(name)
            return
        fresh = None
        if t.state == steps.SEEN:
            fresh = inbound.delivery_from(t, md, spec)  # from the bytes just read: parsed once
        elif t.state in (steps.REMOTE_DELETED, steps.LOADED, steps.QUARANTINED):
            # Fetched before: what is still on the server is a leftover (a crash between deletes); rule 4.
            await self.remote.run(link, lambda s: _remove_all(s, [f"IN/{t.file_name}", f"IN/{name}"]))
            if t.state == steps.LOADED:
                return
        await self._continue(spec, t, report, fresh, listed=sizes.get(t.file_name))

    # -- the steps ---------------------------------------------------------------------
    async def _continue(self, spec: ReceiveSpec, t: JournalTransfer, report: RoundReport,
                        delivery: Delivery | None = None, *, listed: int | None = None) -> None:
        if self.busy(t):  # found both in the journal and on the server: one task does it
            return
        with self.driving(t.key):
            if delivery is not None:
                self._deliveries[t.id] = delivery
            try:
                await self._steps(spec, self.journal.get_id(t.id) or t, report, listed)
            finally:
                self._deliveries.pop(t.id, None)

    async def _steps(self, spec: ReceiveSpec, t: JournalTransfer, report: RoundReport, listed: int | None) -> None:
        try:
            step = steps.next_receive_step(t.state)
            while step is not ReceiveStep.DONE:
                if self.stop.is_set():
                    report.waiting.append(t)
                    return
                if step is ReceiveStep.DOWNLOAD:
                    t = await self._download(spec, t, listed)
                elif step is ReceiveStep.DELETE_REMOTE:
                    t = await self._delete_remote(spec, t)
                else:
                    t = await self._load(spec, t)
                    if t.state == steps.QUARANTINED:
                        report.quarantined.append(t)
                        return
                step = steps.next_receive_step(t.state)
            report.loaded.append(t)
        except (Stopped, Unreachable):  # unreachable: said once for the account already
            report.waiting.append(t)
        except RemoteMissing as exc:
            self._stray(spec.link.name, f"IN/{t.file_name}", f"metadata names a data file that is not there: {exc}")
            report.waiting.append(t)
        except Sf1630Error as exc:
            log.error("%s: not finished (%s): %s; retried next round", t.file_name, t.state, exc)
            report.waiting.append(t)

    async def _download(self, spec: ReceiveSpec, t: JournalTransfer, listed: int | None) -> JournalTransfer:
        local = self._local(t)
        try:
            await blocking.call(self.spool.folder, local)  # a new folder is synced into its parent
            await self.remote.run(spec.link, lambda s: s.download(f"IN/{t.file_name}", local, expected_size=t.size,
                                                                  listed=listed))
        except OSError as exc:  # the local copy failed: a full disk, or a process that lost its lease
            raise SpoolError(f"{local}: cannot keep the download: {exc}") from exc  # the next round tries again
        return await self._move(t, steps.DOWNLOADED)

    async def _delete_remote(self, spec: ReceiveSpec, t: JournalTransfer) -> JournalTransfer:
        # Rule 4: the recipient deletes once fetched.
        paths = [f"IN/{t.file_name}", f"IN/{t.details['metadata_name']}"]
        await self.remote.run(spec.link, lambda s: _remove_all(s, paths))
        t = await self._move(t, steps.REMOTE_DELETED)
        self.emit(Received(delivery=self._delivery(spec, t), transfer=t))
        return t

    async def _load(self, spec: ReceiveSpec, t: JournalTransfer) -> JournalTransfer:
        delivery = self._delivery(spec, t)
        path = self._local(t)
        refused = inbound.authority_problem(t.file_name, spec.municipality, spec.accept_authorities)
        if refused:
            return await self._quarantine(t, error_text(inbound.AuthorityMismatch(refused)))
        unresolved = inbound.unresolved_settings(spec)
        if unresolved:
            return await self._quarantine(t, error_text(LoadError(unresolved)))
        counts = dict((t.details or {}).get("sink_rows") or {})  # kept from an earlier, partial attempt
        changes, repeats, fresh = [], {}, False
        try:
            for sink in spec.sinks:
                label = sink.label or sink.sink.name
                result = await self._load_one(sink, delivery, path)
                if not result.duplicate:
                    counts[label], fresh = result.rows, True
                self.emit(Loaded(delivery=delivery, sink=label, result=result))
                if getattr(result, "changes", ()):
                    changes += [f"{label}: {c.table}.{c.column} {c.kind} {c.detail}".rstrip() for c in result.changes]
                    self.emit(SchemaChanged(delivery=delivery, sink=label, changes=tuple(result.changes)))
                if getattr(result, "repeats", ()):  # a resend of a period (issue #19), journalled for `status`
                    repeats[label] = {"earlier": list(result.repeats),
                                      "replaced": list(getattr(result, "replaced", ()))}
            rows = inbound.file_rows(counts)  # the file's rows, however many sinks took them
        except Exception as exc:  # a sink's failure: keep the copy, alert, retry (issue #13)
            return await self._quarantine(t, error_text(exc), sink_rows=counts)  # no row data in logs (issue #14)
        steps.crash_point("sinks_loaded")
        details = {k: v for k, v in (t.details or {}).items() if k not in ("foreign_authority", "metadata")}
        details.update(sink_rows=counts, **({"schema_changes": changes} if changes else {}),
                       **({"repeats": repeats} if repeats else {}))
        t = await self._move(t, steps.LOADED, rows=rows, error=None, details=details)
        if changes:
            await blocking.call(self._schema_changed, t, changes)
        if repeats:
            log.warning("%s repeats %s (same authority, source and period): %s", t.file_name,
                        ", ".join(sorted({u for r in repeats.values() for u in r["earlier"]})), repeat_note(repeats),
                        extra={"file": t.file_name, "uuid": t.file_transfer_uuid})
        await blocking.call(self.spool.discard_tree, path.parent)  # unlink waits for the disk
        log.info("loaded %s (%s rows, FileTransferUUID %s)", t.file_name, rows, t.file_transfer_uuid,
                 extra={"file": t.file_name, "uuid": t.file_transfer_uuid, "rows": rows})
        self.emit(LoadFinished(delivery=delivery, transfer=t, rows=(rows or 0) if fresh else 0))
        return t

    async def _load_one(self, spec: SinkSpec, delivery: Delivery, path: Path) -> LoadResult:
        # Loads into one target run one at a time: an embedded database takes one writer.
        key = f"{spec.sink.name}:{spec.options!r}"
        lock = self._sink_locks.setdefault(key, asyncio.Lock())
        async with lock:
            return await blocking.call(spec.sink.load, delivery, path, spec.options)

    async def _quarantine(self, t: JournalTransfer, reason: str, **details: Any) -> JournalTransfer:
        first = t.state != steps.QUARANTINED
        src = self._local(t)
        if first:
            dst = self.spool.quarantine(t.account, t.file_transfer_uuid or "", t.file_name)
            for f in sorted(src.parent.iterdir()):
                self.spool.move(f, dst.with_name(f.name))
        attempts = int((t.details or {}).get("load_attempts", 0)) + 1
        t = await self._move(t, steps.QUARANTINED, error=reason, attempts=attempts,
                             next_attempt_at=self.clock() + steps.quarantine_delay(attempts),
                             details={**(t.details or {}), **details, "load_attempts": attempts})
        log.error("load of %s failed (attempt %d), kept in quarantine: %s", t.file_name, attempts, reason,
                  extra={"file": t.file_name, "uuid": t.file_transfer_uuid})
        if first:
            self.emit(Failed(transfer=t, reason=reason))
        return t

    def _resting(self, t: JournalTransfer) -> bool:
        """A quarantined load waits for its next attempt (only when backing off)."""
        due = getattr(t, "next_attempt_at", None)
        return self.quarantine_backoff and t.state == steps.QUARANTINED and due is not None and due > self.clock()

    def _sweep_copies(self, account: str) -> None:
        """Remove local copies of loaded transfers (a crash may come between journal and removal)."""
        for kind in ("in", "quarantine"):
            self._sweep_spool(self.spool.deliveries(kind, account), lambda name: steps.receive_key(account, name),
                              (steps.LOADED,), self.spool.discard_tree)

    # -- helpers -----------------------------------------------------------------------
    def _local(self, t: JournalTransfer) -> Path:
        """The local copy: in quarantine once a load failed, else in the incoming spool."""
        if t.state == steps.QUARANTINED:
            return self.spool.quarantine(t.account, t.file_transfer_uuid or "", t.file_name)
        return self.spool.incoming(t.account, t.file_transfer_uuid or "", t.file_name)

    def _delivery(self, spec: ReceiveSpec, t: JournalTransfer) -> Delivery:
        found = self._deliveries.get(t.id)
        if found is None:  # resumed from the journal: the metadata kept in the claim
            path = self._local(t).with_name(t.details["metadata_name"])
            found = self._deliveries[t.id] = delivery_of(t, path, spec)
        return found

    def _stray(self, account: str, path: str, reason: str, removed: bool = False, *, sender: str | None = None,
               **where: str) -> None:
        key = f"{account}:{path}:{removed}"
        if key in self._reported:
            return
        self._reported.add(key)
        (log.info if removed else log.warning)("%s %s: %s", account, path, reason)
        if sender is not None:  # in `status` until resolved (issue #17)
            self.journal.note_problem(UNEXPECTED_SENDER, f"{account}:{path}", f"{path} from unexpected sender "
                                      f"{sender}: {reason}", self.clock(), account=account, **where)
        self.emit(Stray(account=account, path=path, reason=reason, removed=removed, sender=sender))

    def _schema_changed(self, t: JournalTransfer, changes: list[str]) -> None:
        """Say a schema change at WARNING and keep it in `status` until someone resolves it (issue #17)."""
        text = "; ".join(changes)
        log.warning("%s changed the table(s) it loads into: %s; check the readers of those tables, then run "
                    "sf1630 status --resolve with the problem's id", t.file_name, text,
                    extra={"file": t.file_name, "uuid": t.file_transfer_uuid})
        self.journal.note_problem(SCHEMA_CHANGED, f"{t.account}:{t.file_transfer_uuid}",
                                  f"schema changed by {t.file_name}: {text}", self.clock(),
                                  municipality=t.municipality, source=t.source, account=t.account,
                                  file_name=t.file_name)

    def _settle_senders(self, account: str, listing: list[RemoteFile]) -> None:
        """Unexpected-sender problems of files no longer in IN/ are resolved (someone dealt with them)."""
        present = {f"{account}:IN/{f.name}" for f in listing}
        for p in self.journal.list_problems(UNEXPECTED_SENDER):
            if p.account == account and p.key not in present:
                self.journal.resolve_problem(UNEXPECTED_SENDER, p.key, self.clock(), "the agent (file gone)")

    async def _check_strays(self, spec: ReceiveSpec, listing: list[RemoteFile], report: RoundReport,
                            open_: list[JournalTransfer]) -> None:
        """Report (then remove) data files without metadata; warn about old files (rule 8)."""
        now, account = self.clock(), spec.link.name
        taken = report.named | {t.file_name for t in open_}
        for f in listing:
            age_days = steps.retention_due(f.mtime, now, self.warn_days)
            if age_days is not None and f"{account}:retention:{f.name}" not in self._reported:
                self._reported.add(f"{account}:retention:{f.name}")
                self.emit(RetentionWarning(account=account, path=f"IN/{f.name}", age_days=age_days))
            if f.name.endswith(".metadata") or f.name in taken:
                continue
            action = steps.orphan_action(now - f.mtime, self.grace_seconds)
            if action == "report":
                self._stray(account, f"IN/{f.name}", f"data file without metadata for {now - f.mtime:.0f} s")
            elif action == "remove":
                await self._remove_orphan(spec, f.name)

    async def _remove_orphan(self, spec: ReceiveSpec, name: str) -> None:
        try:
            await self.remote.run(spec.link, lambda s: s.remove(f"IN/{name}"))
        except Sf1630Error as exc:
            log.warning("could not remove %s from IN/ of %s: %s", name, spec.link.name, exc)
            return
        self._stray(spec.link.name, f"IN/{name}", "data file without metadata past twice the grace period: removed",
                    removed=True)


def repeat_note(repeats: dict[str, dict[str, list[str]]]) -> str:
    """What each sink did with a repeated delivery (issue #19), as `status` shows it."""
    done = [f"{label}: replaced {', '.join(r['replaced'])}" if r["replaced"]
            else f"{label}: both kept, <table>_current shows the latest" for label, r in sorted(repeats.items())]
    return "; ".join(done)


async def _remove_all(session: Session, paths: list[str]) -> None:
    for path in paths:
        await session.remove(path)
