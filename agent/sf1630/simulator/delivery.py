"""Carrying out a decision, crash-safe: a journal of in-flight routes and idempotent steps.

Before anything becomes visible the decision goes into `<root>/.platform/journal/<uuid>.json`. Each
file it writes is first *staged* in `<root>/.platform/staging/` (the data file hard-linked or copied,
the receipt and metadata written), everything staged is fsync'd together with the journal record,
and then the files are *published* into IN/ by rename: the receipt, then per recipient the data file
before its metadata. Each published step is appended to the record, which goes at the end.
On restart every record left is staged and published again from the first step not done, so a crash
at any point ends as an uninterrupted run would, and a recipient never sees a metadata file before
its data file is complete. Staging and publishing are quick file operations done on the event
loop; only fsync and copies (another file system, or a file still open for writing) go to a thread.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sf1630.simulator.decision import METADATA_SUFFIX, Decision

log = logging.getLogger("sf1630.simulator")
JOURNAL_VERSION = 1
StepHook = Callable[[str, str], None]   # (step, FileTransferUUID); raising there simulates a crash


@dataclass
class Record:
    """A journalled decision and the steps already published."""

    decision: Decision
    done: list[str] = field(default_factory=list)

    def steps(self) -> list[str]:
        """Every publishing step of this decision, in order."""
        names = ["receipt"]
        for user, _ in self.decision.deliveries:
            names += [f"data:{user}", f"metadata:{user}"]
        return names + ["clean"]

    def to_json(self) -> bytes:
        d = self.decision
        raw = {"uuid": d.uuid, "user": d.user, "trigger_name": d.trigger_name, "data_name": d.data_name,
               "receipt_name": d.receipt_name, "receipt": d.receipt.decode("utf-8"),
               "deliveries": [[user, meta.decode("utf-8")] for user, meta in d.deliveries],
               "problems": [list(p) for p in d.problems]}
        return json.dumps({"version": JOURNAL_VERSION, "decision": raw}, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, done: list[str]) -> Record:
        raw = json.loads(data)
        if raw.get("version") != JOURNAL_VERSION:
            raise ValueError(f"journal record version {raw.get('version')} is not {JOURNAL_VERSION}")
        d = raw["decision"]
        d["receipt"] = d["receipt"].encode("utf-8")
        d["deliveries"] = tuple((user, meta.encode("utf-8")) for user, meta in d["deliveries"])
        d["problems"] = tuple((code, text) for code, text in d["problems"])
        return cls(Decision(**d), done)


def copy_files(pairs: list[tuple[str, str]]) -> None:
    """Copy (source, target) pairs (blocking: run it in a worker thread)."""
    for src, dst in pairs:
        os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))  # copyfile keeps the mode
        shutil.copyfile(src, dst)   # sendfile() in large chunks


def _replace_into(tmp: str, folder: str, name: str) -> None:
    try:
        os.replace(tmp, os.path.join(folder, name))
    except FileNotFoundError:
        if not os.path.exists(tmp):
            raise
        os.makedirs(folder, mode=0o700, exist_ok=True)    # a user's IN/ removed by hand since start
        os.replace(tmp, os.path.join(folder, name))


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class Journal:
    """In-flight routes, one file each: the decision as a JSON line, then one line per step published."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._open: dict[str, int] = {}     # uuid -> descriptor of its record, while in flight
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, uuid: str) -> str:
        return os.path.join(self.folder, uuid + ".json")

    def begin(self, decision: Decision) -> Record:
        """Journal a decision before any of it is carried out (made durable with the staged files).

        Written in place: a record cut short by a crash was never acted on and is simply dropped."""
        record = Record(decision)
        fd = os.open(self.path(decision.uuid), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                     0o600)
        os.write(fd, record.to_json() + b"\n")
        self._open[decision.uuid] = fd
        return record

    def progress(self, record: Record, step: str) -> None:
        """Record a published step; a lost line only repeats an idempotent step."""
        record.done.append(step)
        fd = self._open.get(record.decision.uuid)
        if fd is None:      # a record read back after a restart
            fd = os.open(self.path(record.decision.uuid), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._open[record.decision.uuid] = fd
        os.write(fd, step.encode("utf-8") + b"\n")

    def finish(self, record: Record) -> None:
        """Forget a decision that has been carried out completely."""
        self.close(record)
        try:
            os.unlink(self.path(record.decision.uuid))
        except FileNotFoundError:
            pass

    def close(self, record: Record) -> None:
        """Let go of a record's descriptor (it stays on disk)."""
        fd = self._open.pop(record.decision.uuid, None)
        if fd is not None:
            os.close(fd)

    def pending(self) -> list[Record]:
        """Records left by an interrupted run, oldest first."""
        records = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
            first, *steps = path.read_bytes().split(b"\n")
            try:
                records.append(Record.from_json(first, [s.decode("utf-8") for s in steps if s]))
            except ValueError as exc:
                if steps:
                    log.error("journal record %s cannot be read (%s); move it away and check its route by hand",
                              path, exc, extra={"file": path.name})
                else:   # cut short while being written: nothing was done, the trigger is still in OUT/
                    path.unlink()
            except (KeyError, TypeError) as exc:
                log.error("journal record %s is not one this version writes (%s); check its route by hand",
                          path, exc, extra={"file": path.name})
        return records


@dataclass
class Staged:
    """What stage() prepared: files to copy in a thread, and files to fsync before publishing."""

    copies: list[tuple[str, str]] = field(default_factory=list)
    sync: list[str] = field(default_factory=list)


class Steps:
    """Stage, then publish, every step of a record not yet done; each publishing step idempotent."""

    def __init__(self, root: Path, journal: Journal, *, hook: StepHook | None = None):
        self.root, self.journal, self.hook = str(root), journal, hook
        self.staging = os.path.join(self.root, ".platform", "staging")
        os.makedirs(self.staging, mode=0o700, exist_ok=True)

    def _tmp(self, d: Decision, step: str) -> str:
        return os.path.join(self.staging, f"{d.uuid}.{step.replace(':', '.')}")

    def _inbox(self, user: str) -> str:
        return os.path.join(self.root, user, "IN")

    def stage(self, record: Record, copy: bool = False) -> Staged:
        """Write the staging files of the steps not done. `copy`: copy the data file instead of
        hard-linking it (a client still holds it open for writing; a link would pass on its writes)."""
        d = record.decision
        # A new file's name is in the same file-system journal commit as its data (ext4, xfs): no folder fsync.
        staged = Staged(sync=[self.journal.path(d.uuid)])
        for step in record.steps():
            kind, _, user = step.partition(":")
            if step in record.done or kind == "clean":
                continue
            tmp = self._tmp(d, step)
            if kind == "receipt":
                _write(tmp, d.receipt)
            elif kind == "metadata":
                _write(tmp, dict(d.deliveries)[user])
            elif not self._stage_link(d, tmp, copy):
                staged.copies.append((os.path.join(self.root, d.user, "OUT", d.data_file), tmp))
            staged.sync.append(tmp)
        return staged

    def _stage_link(self, d: Decision, tmp: str, copy: bool) -> bool:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if copy:
            return False
        try:
            os.link(os.path.join(self.root, d.user, "OUT", d.data_file), tmp)
            return True
        except FileNotFoundError:
            raise
        except OSError:    # another file system, or no hard links there: copy instead
            return False

    def publish(self, record: Record) -> None:
        """Rename the staged files into place, in order, recording each step; then clean OUT/."""
        d = record.decision
        for step in record.steps():
            if step in record.done:
                continue
            kind, _, user = step.partition(":")
            if kind == "receipt":
                _replace_into(self._tmp(d, step), self._inbox(d.user), d.receipt_name)
            elif kind == "data":
                self._publish_data(d, user, self._tmp(d, step))
            elif kind == "metadata":
                self._publish_metadata(d, user, self._tmp(d, step))
            else:
                self._clean(d)
            if self.hook:
                self.hook(step, d.uuid)
            self.journal.progress(record, step)
        self.journal.finish(record)

    def _publish_data(self, d: Decision, user: str, tmp: str) -> None:
        inbox = self._inbox(user)
        dest = os.path.join(inbox, d.data_file)
        # An older delivery of the same name: drop its metadata first, so it never describes new data.
        try:
            os.unlink(dest + METADATA_SUFFIX)
        except FileNotFoundError:
            pass
        if os.path.exists(dest) and os.path.samefile(tmp, dest):
            os.unlink(tmp)     # published before a restart; rename() between two links of one file is a no-op
        else:
            _replace_into(tmp, inbox, d.data_file)

    def _publish_metadata(self, d: Decision, user: str, tmp: str) -> None:
        inbox = self._inbox(user)
        if not os.path.exists(os.path.join(inbox, d.data_file)):
            # Only after a restart: the recipient already took the data file, so no metadata without it.
            log.warning("IN/%s of %s is gone; its metadata is not written again", d.data_name, user,
                        extra={"file": d.data_name, "uuid": d.uuid, "user": user})
            os.unlink(tmp)
            return
        os.replace(tmp, os.path.join(inbox, d.data_file + METADATA_SUFFIX))

    def _clean(self, d: Decision) -> None:
        out = os.path.join(self.root, d.user, "OUT")
        names = [d.data_name, d.trigger_name] if d.ok and d.data_name else [d.trigger_name]
        for name in names:
            try:
                os.unlink(os.path.join(out, name))
            except FileNotFoundError:
                pass
