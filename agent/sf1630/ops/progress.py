"""A one-line progress display on stderr when it is a terminal; silent otherwise (issue #13).

It is an ``emit`` target: it counts the events the sender and receiver emit. No dependency.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from sf1630.events import Delivered, Event, Failed, Loaded, Received


class ProgressLine:
    """Counts deliveries, failures and loads and redraws one line at most ten times a second."""

    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None,
                 enabled: bool | None = None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.delivered = self.failed = self.received = self.loaded = self.bytes = 0
        self._started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, event: Event) -> None:
        match event:
            case Delivered(transfer=t):
                self.delivered += 1
                self.bytes += t.size or 0
            case Failed():
                self.failed += 1
            case Received(delivery=d):
                self.received += 1
                self.bytes += d.size
            case Loaded():
                self.loaded += 1
            case _:
                return
        self.draw()

    def text(self) -> str:
        """The current line."""
        done = self.delivered + self.failed + self.received
        of = f"/{self.total}" if self.total else ""
        bar = _bar(done, self.total) if self.total else ""
        parts = [f"{self.label} {bar}{done}{of}"]
        if self.delivered:
            parts.append(f"{self.delivered} delivered")
        if self.received:
            parts.append(f"{self.received} received, {self.loaded} loads")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{self.bytes / 1e6:.1f} MB, {time.monotonic() - self._started:.1f} s")
        return ", ".join(parts)

    def draw(self, force: bool = False) -> None:
        """Redraw the line (rate-limited unless ``force``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self._drawn >= 0.1:
            self._drawn = now
            self.stream.write("\r\x1b[2K" + self.text())
            self.stream.flush()

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self.draw(force=True)
            self.stream.write("\n")
            self.stream.flush()


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = min(width, int(width * done / total)) if total else 0
    return "[" + "#" * filled + "." * (width - filled) + "] "
