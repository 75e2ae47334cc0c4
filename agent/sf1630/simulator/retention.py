"""Retention: the platform deletes files left unchanged for `days` and warns at `warn_days`.

PROTOCOL.md, "Delivery safety and clean-up": files unchanged for 30 days are deleted daily, with a
warning to the owning system 10 days before. The simulator sweeps every `sweep_seconds` (and once
at start), logs each warning and hands it to the `on_retention_warning` callback; names in
processing are left alone.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sf1630.simulator.config import RetentionConfig

log = logging.getLogger("sf1630.simulator")
DAY = 86400.0
WarningCallback = Callable[..., object]   # called as callback(user=..., path=..., age_days=...)


@dataclass
class SweepResult:
    """What one sweep did: files deleted, and warnings given (user, path, age in days)."""

    deleted: list[Path] = field(default_factory=list)
    warned: list[tuple[str, Path, float]] = field(default_factory=list)


class Retention:
    """Sweeps every user's folder; warns once per file (again if it changes)."""

    def __init__(self, root: Path, users: list[str], config: RetentionConfig,
                 locked: Callable[[str, str], bool]):
        self.root, self.users, self.config, self._locked = root, users, config, locked
        self._warned: dict[Path, float] = {}     # path -> mtime it was warned about

    def _files(self, user: str):
        for folder, dirs, files in os.walk(self.root / user):
            for name in files:
                yield Path(folder) / name

    def sweep(self, now: float | None = None) -> SweepResult:
        """Delete what is too old and collect warnings; blocking, run it in a worker thread."""
        result = SweepResult()
        if not self.config.days:
            return result
        now = time.time() if now is None else now
        seen: set[Path] = set()
        for user in self.users:
            out = self.root / user / "OUT"
            for path in self._files(user):
                try:
                    mtime = path.lstat().st_mtime
                except OSError:
                    continue
                age = (now - mtime) / DAY
                if path.parent == out and self._locked(user, path.name):
                    continue
                if age >= self.config.days:
                    path.unlink(missing_ok=True)
                    result.deleted.append(path)
                    log.info("retention: deleted %s of %s, unchanged for %.1f days", path.name, user, age,
                             extra={"file": path.name, "user": user})
                elif age >= self.config.warn_days:
                    seen.add(path)
                    if self._warned.get(path) != mtime:
                        self._warned[path] = mtime
                        result.warned.append((user, path, age))
        self._warned = {p: m for p, m in self._warned.items() if p in seen}
        return result


def announce(result: SweepResult, callback: WarningCallback | None) -> None:
    """Log each warning and hand it to the callback (whose exceptions are logged, never raised)."""
    for user, path, age in result.warned:
        log.warning("retention: %s of %s unchanged for %.1f days; it will be deleted at the retention limit",
                    path.name, user, age, extra={"file": path.name, "user": user})
        if callback is None:
            continue
        try:
            callback(user=user, path=path, age_days=age)
        except Exception:
            log.exception("the retention warning callback failed for %s", path)
