"""Carrying out a decision, crash-safe: a journal of in-flight routes and idempotent steps.

Before anything is written the decision goes into `<root>/.platform/journal/<uuid>.json`; each step
is recorded there once done, and the record is removed at the end. On restart every record left is
carried out again from the first step not recorded, so a crash at any point ends in the same state
as an uninterrupted run. Files reach IN/ only by rename from `<root>/.platform/staging/`, the data
file before its metadata: a recipient never sees a metadata file before its data file is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from sf1630.simulator.decision import METADATA_SUFFIX, Decision

log = logging.getLogger("sf1630.simulator")
JOURNAL_VERSION = 1
StepHook = Callable[[str, str], None]   # (step, FileTransferUUID); raising there simulates a crash


@dataclass
class Record:
    """A journalled decision and the steps already done."""

    decision: Decision
    done: list[str] = field(default_factory=list)

    def steps(self) -> list[str]:
        """Every step of this decision, in order."""
        names = ["receipt"]
        for user, _ in self.decision.deliveries:
            names += [f"data:{user}", f"metadata:{user}"]
        return names + ["clean"]

    def to_json(self) -> bytes:
        d = asdict(self.decision)
        d["receipt"] = self.decision.receipt.decode("utf-8")
        d["deliveries"] = [[user, meta.decode("utf-8")] for user, meta in self.decision.deliveries]
        d["problems"] = [list(p) for p in self.decision.problems]
        return json.dumps({"version": JOURNAL_VERSION, "decision": d, "done": self.done},
                          ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Record:
        raw = json.loads(data)
        if raw.get("version") != JOURNAL_VERSION:
            raise ValueError(f"journal record version {raw.get('version')} is not {JOURNAL_VERSION}")
        d = raw["decision"]
        d["receipt"] = d["receipt"].encode("utf-8")
        d["deliveries"] = tuple((user, meta.encode("utf-8")) for user, meta in d["deliveries"])
        d["problems"] = tuple((code, text) for code, text in d["problems"])
        return cls(Decision(**d), list(raw["done"]))


def _write_file(path: Path, data: bytes, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """In-flight routes, one small JSON file each (written before acting, removed when done)."""

    def __init__(self, folder: Path, fsync: bool = True):
        self.folder, self.fsync = folder, fsync
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, uuid: str) -> Path:
        return self.folder / f"{uuid}.json"

    def _store(self, record: Record, fsync: bool) -> None:
        tmp = self.folder / f".{record.decision.uuid}.tmp"
        _write_file(tmp, record.to_json(), fsync)
        os.replace(tmp, self._path(record.decision.uuid))
        if fsync:
            _fsync_dir(self.folder)

    def begin(self, decision: Decision) -> Record:
        """Journal a decision before any of it is carried out."""
        record = Record(decision)
        self._store(record, self.fsync)
        return record

    def progress(self, record: Record, step: str) -> None:
        """Record a finished step (atomic rename; a lost update only repeats an idempotent step)."""
        record.done.append(step)
        self._store(record, False)

    def finish(self, record: Record) -> None:
        """Forget a decision that has been carried out completely."""
        self._path(record.decision.uuid).unlink(missing_ok=True)

    def pending(self) -> list[Record]:
        """Records left by an interrupted run, oldest first."""
        records = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                records.append(Record.from_json(path.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("journal record %s cannot be read (%s); move it away and check its route by hand",
                          path, exc, extra={"file": path.name})
        return records


class Steps:
    """The delivery steps, each idempotent, each recorded in the journal once done."""

    def __init__(self, root: Path, journal: Journal, *, fsync: bool = True, hook: StepHook | None = None):
        self.root, self.journal, self.fsync, self.hook = root, journal, fsync, hook
        self.staging = root / ".platform" / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def carry_out(self, record: Record, copy: bool = False) -> None:
        """Do every step not yet done. `copy`: copy the data file instead of hard-linking it
        (a client still holds it open for writing, so a link would let later writes reach recipients)."""
        d = record.decision
        for step in record.steps():
            if step in record.done:
                continue
            kind, _, user = step.partition(":")
            if kind == "receipt":
                self._put(self.root / d.user / "IN" / d.receipt_name, d.receipt, f"{d.uuid}.receipt")
            elif kind == "data":
                self._deliver_data(d, user, copy)
            elif kind == "metadata":
                self._deliver_metadata(d, user)
            else:
                self._clean(d)
            if self.hook:
                self.hook(step, d.uuid)
            self.journal.progress(record, step)
        self.journal.finish(record)

    def _inbox(self, user: str) -> Path:
        inbox = self.root / user / "IN"
        inbox.mkdir(parents=True, exist_ok=True)
        return inbox

    def _put(self, dest: Path, data: bytes, tmp_name: str) -> None:
        tmp = self.staging / tmp_name
        _write_file(tmp, data, self.fsync)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)

    def _deliver_data(self, d: Decision, user: str, copy: bool) -> None:
        assert d.data_name is not None
        src = self.root / d.user / "OUT" / d.data_name
        inbox = self._inbox(user)
        if _same_file(src, inbox / d.data_name):
            return   # linked there before a restart (and rename() between two links of one file does nothing)
        tmp = self.staging / f"{d.uuid}.{user}.data"
        tmp.unlink(missing_ok=True)
        linked = False
        if not copy:
            try:
                os.link(src, tmp)
                linked = True
            except OSError:   # another file system, or no hard links there: copy instead
                pass
        if not linked:
            shutil.copyfile(src, tmp)   # sendfile() in large chunks
        if self.fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        # An older delivery of the same name: drop its metadata first, so it never describes new data.
        (inbox / (d.data_name + METADATA_SUFFIX)).unlink(missing_ok=True)
        os.replace(tmp, inbox / d.data_name)

    def _deliver_metadata(self, d: Decision, user: str) -> None:
        assert d.data_name is not None
        inbox = self._inbox(user)
        if not (inbox / d.data_name).exists():
            # Only after a restart: the recipient already took the data file, so no metadata without it.
            log.warning("IN/%s of %s is gone; its metadata is not written again", d.data_name, user,
                        extra={"file": d.data_name, "uuid": d.uuid, "user": user})
            return
        self._put(inbox / (d.data_name + METADATA_SUFFIX), dict(d.deliveries)[user], f"{d.uuid}.{user}.meta")

    def _clean(self, d: Decision) -> None:
        out = self.root / d.user / "OUT"
        if d.ok and d.data_name:
            (out / d.data_name).unlink(missing_ok=True)
        (out / d.trigger_name).unlink(missing_ok=True)
