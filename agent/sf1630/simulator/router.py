"""The router: notices complete triggers, locks their names, decides and delivers (issues #8, #12).

A trigger is complete when a client closes it after writing or renames a file into a `.trigger`
name; a periodic scan catches the rest. It then stays visible for `settle_seconds` (a rewrite starts
the wait again) so that a client can still `stat` it (PROTOCOL.md, "Older clients"). From the moment
the router takes it until the route is done, the trigger and its data file are locked: the SFTP side
refuses the sender's writes, renames and deletes on them (rule 2). All bookkeeping runs on the event
loop, and so do the small file operations of a route; fsync and copies run in worker threads, so
neither big files nor slow disks stall the SFTP sessions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor

from sf1630.simulator import decision as decisions
from sf1630.simulator.config import PlatformConfig, RouteConfig
from sf1630.simulator.delivery import Journal, Record, StepHook, Steps, copy_files
from sf1630.transport.localfile import fsync_path

log = logging.getLogger("sf1630.simulator")
Key = tuple[str, str]          # (SFTP user, file name in that user's OUT/)
TRIGGER_SUFFIX = ".trigger"
STABLE_NS = 2_000_000_000   # an OUT/ changed this recently is listed by every scan
ANSWERED_KEPT = 10000     # data names whose receipt's trigger is remembered (a receipt is read in seconds)


class Router:
    """Routes every user's triggers; also the `Gate` the SFTP side asks about locks."""

    def __init__(self, config: PlatformConfig, *, step_hook: StepHook | None = None):
        self.config, self.root = config, config.server.root
        self._users = {u.name for u in config.users}
        self._outs = {u: os.path.join(self.root, u, "OUT") for u in self._users}
        self._quiet: dict[str, int] = {}     # user -> mtime (ns) of an OUT/ that held no trigger
        # Routes by sending user and RecipientAuthority, in config order: a country has hundreds.
        self._routes: dict[tuple[str, str], list[RouteConfig]] = {}
        self._indexed: list[RouteConfig] | None = None   # the routes the index was built from
        self._locks: dict[Key, str] = {}                 # locked name -> FileTransferUUID or "" until known
        self._settling: dict[Key, asyncio.TimerHandle] = {}
        self._writing: Counter[Key] = Counter()          # triggers open for writing
        self._open_inodes: Counter[tuple[int, int]] = Counter()
        self._failed: dict[str, tuple[Record, list[Key]]] = {}
        self._answered: OrderedDict[Key, str] = OrderedDict()   # (user, data name) -> trigger its receipt answers
        self._tasks: set[asyncio.Task] = set()
        self._sem = asyncio.Semaphore(config.server.max_routes)
        self._loop = asyncio.get_running_loop()
        self._io = ThreadPoolExecutor(max_workers=4 * config.server.max_routes, thread_name_prefix="sf1630-io")
        self._stopping = False
        self.release = asyncio.Event()                   # cleared: routes wait once locked (tests, demos)
        self.release.set()
        self.journal = Journal(self.root / ".platform" / "journal")
        self.steps = Steps(self.root, self.journal, hook=step_hook)

    # -- the Gate, called by the SFTP side on the event loop --------------------------------------
    def locked(self, user: str, name: str) -> bool:
        """Is OUT/<name> of `user` being processed?"""
        return (user, name) in self._locks

    def opened(self, user: str, out_name: str | None, inode: tuple[int, int]) -> None:
        """A file was opened for writing (`out_name` set when it is directly in OUT/)."""
        self._open_inodes[inode] += 1
        if out_name is not None and out_name.endswith(TRIGGER_SUFFIX):
            key = (user, out_name)
            self._writing[key] += 1
            timer = self._settling.pop(key, None)
            if timer:
                timer.cancel()

    def closed(self, user: str, out_name: str | None, inode: tuple[int, int]) -> None:
        """A file opened for writing was closed."""
        self._open_inodes[inode] -= 1
        if self._open_inodes[inode] <= 0:
            del self._open_inodes[inode]
        if out_name is not None and out_name.endswith(TRIGGER_SUFFIX):
            key = (user, out_name)
            self._writing[key] -= 1
            if self._writing[key] <= 0:
                del self._writing[key]
                self._settle(key, self.config.server.settle_seconds)

    def renamed(self, user: str, out_name: str) -> None:
        """A file was renamed into OUT/<out_name>."""
        if out_name.endswith(TRIGGER_SUFFIX) and not self._writing.get((user, out_name)):
            self._settle((user, out_name), self.config.server.settle_seconds)

    # -- taking triggers -------------------------------------------------------------------------
    def _settle(self, key: Key, delay: float) -> None:
        if self._stopping or key in self._locks:
            return
        timer = self._settling.pop(key, None)
        if timer:
            timer.cancel()
        if delay <= 0:
            self._take(key)
        else:
            self._settling[key] = asyncio.get_running_loop().call_later(delay, self._take, key)

    def _take(self, key: Key) -> None:
        self._settling.pop(key, None)
        if self._stopping or key in self._locks or self._writing.get(key):
            return
        self._locks[key] = ""
        self._spawn(self._route(key))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def routes_for(self, user: str, authority: str) -> list[RouteConfig]:
        """The routes of a sending user and RecipientAuthority, in config order. The index follows
        the config's list: an embedding test suite may add or remove routes while the platform runs."""
        if self._indexed != self.config.routes:   # compares by identity first: cheap when unchanged
            self._routes = {}
            for route in self.config.routes:
                self._routes.setdefault((route.sftp_user, route.recipient_authority), []).append(route)
            self._indexed = list(self.config.routes)
        return self._routes.get((user, authority), [])

    def scan(self) -> None:
        """Look for triggers in every OUT/ that nobody told us about; retry interrupted routes.

        An OUT/ that held no trigger when listed is not listed again while its mtime stays (any
        name added, renamed or removed changes it); one changed in the last STABLE_NS is, as file
        system timestamps are coarse. A country has hundreds of users (issue #23)."""
        now, settle = time.time(), self.config.server.settle_seconds
        for user in sorted(self._users):
            out = self._outs[user]
            try:
                mtime = os.stat(out).st_mtime_ns
                if self._quiet.get(user) == mtime:
                    continue
                entries = list(os.scandir(out))
            except OSError:
                continue
            self._quiet.pop(user, None)
            triggers = [entry for entry in entries if entry.name.endswith(TRIGGER_SUFFIX)]
            if not triggers and now * 1e9 - mtime > STABLE_NS:
                self._quiet[user] = mtime
            for entry in triggers:
                key = (user, entry.name)
                if key in self._locks or key in self._settling or self._writing.get(key):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue          # gone since the listing
                if stat.S_ISREG(st.st_mode):
                    self._settle(key, settle - (now - st.st_mtime))
        for uuid, (record, keys) in list(self._failed.items()):
            del self._failed[uuid]
            self._spawn(self._redo(record, keys))

    # -- routes ----------------------------------------------------------------------------------
    async def _route(self, key: Key) -> None:
        user, trigger_name = key
        held: list[Key] = [key]
        try:
            async with self._sem:
                parsed = None if self._stopping else self._read(user, trigger_name)
                if parsed is None:
                    return
                # Another trigger's route holding the data file refuses this one (DATA_LOCKED).
                busy = bool(parsed.data_name) and (user, parsed.data_name) in self._locks
                if parsed.data_name and not busy:
                    self._locks[(user, parsed.data_name)] = ""
                    held.append((user, parsed.data_name))
                await self.release.wait()
                if self._stopping:
                    return
                decision, inode = self._decide(user, parsed, busy)
                self._remember(decision)
                record = self.journal.begin(decision)
                for k in held:
                    self._locks[k] = decision.uuid
                _log_decision(decision)
                if not await self._carry_out(record, held, copy=inode in self._open_inodes):
                    held = []   # kept locked until the retry succeeds
        except Exception:
            log.exception("routing OUT/%s of %s failed before anything was written; it will be retried",
                          trigger_name, user, extra={"file": trigger_name, "user": user})
        finally:
            self._unlock(held)

    async def _carry_out(self, record: Record, keys: list[Key], copy: bool) -> bool:
        d = record.decision
        try:
            staged = self.steps.stage(record, copy)
            if staged.copies:
                await self._loop.run_in_executor(self._io, copy_files, staged.copies)
            if self.config.server.fsync:
                # All at once: concurrent fsyncs share the file system's journal commits.
                await asyncio.gather(*(self._loop.run_in_executor(self._io, fsync_path, p) for p in staged.sync))
            self.steps.publish(record)
        except Exception as exc:
            self.journal.close(record)
            log.error("route %s of %s (FileTransferUUID %s) interrupted (%s); the journal keeps it and it "
                      "will be finished", d.trigger_name, d.user, d.uuid, exc,
                      extra={"file": d.trigger_name, "uuid": d.uuid, "user": d.user})
            self._failed[d.uuid] = (record, keys)
            return False
        if d.ok:
            log.info("delivered %s from %s to %s (FileTransferUUID %s)", d.data_name, d.user,
                     ", ".join(u for u, _ in d.deliveries), d.uuid,
                     extra={"file": d.data_name, "uuid": d.uuid, "user": d.user})
        return True

    async def _redo(self, record: Record, keys: list[Key]) -> None:
        d = record.decision
        log.info("finishing interrupted route of %s (FileTransferUUID %s, steps done: %s)", d.trigger_name, d.uuid,
                 ", ".join(record.done) or "none",
                 extra={"file": d.trigger_name, "uuid": d.uuid, "user": d.user})
        ok = await self._carry_out(record, keys, copy=False)
        if ok:
            self._unlock(keys)

    def recover(self) -> int:
        """Lock and finish every route an earlier run left in the journal; returns how many."""
        records = self.journal.pending()
        for record in records:
            d = record.decision
            keys = [(d.user, d.trigger_name)] + ([(d.user, d.data_name)] if d.data_name else [])
            for k in keys:
                self._locks[k] = d.uuid
            self._spawn(self._redo(record, keys))
        return len(records)

    def _remember(self, d: decisions.Decision) -> None:
        if d.data_name and d.receipt_name == d.data_name + decisions.RECEIPT_SUFFIX:
            self._answered[(d.user, d.data_name)] = d.trigger_name
            self._answered.move_to_end((d.user, d.data_name))
            if len(self._answered) > ANSWERED_KEPT:
                self._answered.popitem(last=False)

    def _unlock(self, keys: list[Key]) -> None:
        for k in keys:
            self._locks.pop(k, None)

    def _read(self, user: str, trigger_name: str) -> decisions.Parsed | None:
        try:
            with open(self.root / user / "OUT" / trigger_name, "rb") as f:
                data = f.read(decisions.MAX_TRIGGER_BYTES + 1)
        except (FileNotFoundError, IsADirectoryError):
            return None   # renamed or deleted while settling
        return decisions.parse(trigger_name, data, lenient=self.config.server.lenient_triggers)

    def _decide(self, user: str, parsed: decisions.Parsed,
                busy: bool = False) -> tuple[decisions.Decision, tuple[int, int] | None]:
        size = inode = None
        if parsed.data_name and not busy:
            try:
                st = os.stat(self.root / user / "OUT" / parsed.data_name, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    size, inode = st.st_size, (st.st_dev, st.st_ino)
            except OSError:
                pass
        # Still unread in IN/, the receipt of another trigger for this data file is not replaced.
        other = self._answered.get((user, parsed.data_name or ""), parsed.trigger_name)
        taken = other != parsed.trigger_name and os.path.lexists(
            self.root / user / "IN" / ((parsed.data_name or "") + decisions.RECEIPT_SUFFIX))
        server = self.config.server
        info = parsed.trigger.routing if parsed.trigger else None
        routes = self.routes_for(user, info.recipient_authority) if info else []
        try:
            decision = decisions.decide(user, parsed, decisions.DataFacts(size, busy, taken), self._users,
                                        routes, server.metadata_root)
        except Exception as exc:   # a bug, or input no check foresaw: answer it rather than retry forever
            log.exception("deciding OUT/%s of %s failed", parsed.trigger_name, user)
            failed = decisions.Parsed(parsed.trigger_name, problem=(decisions.codes.INTERNAL, f"{exc}"))
            decision = decisions.decide(user, failed, decisions.DataFacts(None), self._users, [], server.metadata_root)
        return decision, inode

    # -- state for tests, demos and shutdown -------------------------------------------------------
    def busy(self) -> bool:
        """True while a trigger is settling, being written, or in processing."""
        return bool(self._settling or self._writing or self._locks or self._tasks)

    async def wait_idle(self, timeout: float) -> None:
        """Scan once, then wait until no trigger is settling, being written or in processing."""
        self.scan()
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                pending = sorted(set(self._settling) | set(self._locks) | set(self._writing))
                raise TimeoutError(f"platform still busy after {timeout} s with {pending}")
            await asyncio.sleep(0.005)

    def stop_taking(self) -> None:
        """Take no more triggers (settling ones stay in OUT/ for the next start)."""
        self._stopping = True
        for timer in self._settling.values():
            timer.cancel()
        self._settling.clear()

    async def stop(self) -> None:
        """Stop taking triggers; let routes already journalled finish."""
        self.stop_taking()
        self.release.set()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._io.shutdown(wait=False)


def _log_decision(d: decisions.Decision) -> None:
    extra = {"file": d.data_name or d.trigger_name, "uuid": d.uuid, "user": d.user}
    if d.ok:
        log.info("accepted OUT/%s from %s for %s (FileTransferUUID %s)", d.trigger_name, d.user,
                 ", ".join(u for u, _ in d.deliveries), d.uuid, extra=extra)
        return
    for code, text in d.problems:
        log.warning("refused OUT/%s from %s (FileTransferUUID %s): %s %s: %s", d.trigger_name, d.user, d.uuid,
                    code, decisions.codes.BY_NUMBER[code].name, text, extra={**extra, "code": code})
