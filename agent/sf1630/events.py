"""Events the sender and receiver emit, and the emitter that hands them to plugins.

The core knows nothing of plugins (STYLE.md): sender and receiver call an ``emit(event)`` callable.
:func:`plugin_emitter` turns events into the PluginHost's typed event methods; tests and the demo
can pass any callable (or a :class:`Recorder`) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sf1630.api import Delivery, Expectation, LoadResult, Transfer

log = logging.getLogger("sf1630.events")


@dataclass(frozen=True)
class Delivered:
    """A send got a SUCCESS receipt."""

    transfer: Transfer


@dataclass(frozen=True)
class Failed:
    """A send got an error receipt, or a load failed (the file is in quarantine)."""

    transfer: Transfer
    reason: str


@dataclass(frozen=True)
class Received:
    """A delivered file is durable in the spool and deleted from the server (rule 4)."""

    delivery: Delivery
    transfer: Transfer


@dataclass(frozen=True)
class Loaded:
    """One sink loaded a delivered file."""

    delivery: Delivery
    sink: str
    result: LoadResult


@dataclass(frozen=True)
class LoadFinished:
    """Every sink has loaded a delivered file. ``rows`` counts the file's rows once, however many sinks
    took them (0 when every sink had it from before)."""

    delivery: Delivery
    transfer: Transfer
    rows: int


@dataclass(frozen=True)
class SchemaChanged:
    """A sink changed a table because a source's header changed (issue #14)."""

    delivery: Delivery
    sink: str
    changes: tuple  # sf1630.api.SchemaChange records


@dataclass(frozen=True)
class RetentionWarning:
    """A file of our own on the server is older than warn_days (rule 8)."""

    account: str
    path: str
    age_days: float


@dataclass(frozen=True)
class ReceiptOverdue:
    """No receipt within receipt_timeout; the sender keeps waiting (issue #13)."""

    transfer: Transfer
    waited: float


@dataclass(frozen=True)
class Stray:
    """A file on the server the agent does not take: data without metadata, or bad metadata."""

    account: str
    path: str
    reason: str
    removed: bool = False
    sender: str | None = None  # set when the file came from a sender not in expected_senders


@dataclass(frozen=True)
class Missing:
    """An expected extract is overdue (``cleared`` False), or it came after all (``cleared`` True). Issue #14."""

    expectation: Expectation
    cleared: bool = False


@dataclass(frozen=True)
class Reachability:
    """An account reached the platform (``up``) or gave up trying (issue #17)."""

    account: str
    environment: str
    up: bool
    reason: str = ""  # how it failed: refused, timed out, lost


@dataclass(frozen=True)
class Unreachable:
    """An account has not reached the platform for longer than unreachable_alert_seconds (issue #17)."""

    account: str
    environment: str
    since: float
    reason: str


@dataclass(frozen=True)
class Progress:
    """Bytes moved, for progress display only."""

    kind: str  # "upload" | "download"
    nbytes: int


Event = (Delivered | Failed | Received | Loaded | LoadFinished | SchemaChanged | RetentionWarning | ReceiptOverdue | Stray
         | Missing | Reachability | Unreachable | Progress)
Emit = Callable[[Event], None]


def plugin_emitter(host: Any) -> Emit:
    """An ``emit`` that passes each event to the PluginHost's event method (exceptions are logged there)."""

    def emit(event: Event) -> None:
        match event:
            case Delivered(transfer=t):
                host.on_delivered(transfer=t)
            case Failed(transfer=t, reason=reason):
                host.on_failed(transfer=t, reason=reason)
            case Received(delivery=d):
                host.on_received(delivery=d)
            case Loaded(delivery=d, sink=sink, result=result):
                host.on_loaded(delivery=d, sink=sink, result=result)
            case SchemaChanged(delivery=d, sink=sink, changes=changes):
                host.on_schema_changed(delivery=d, sink=sink, changes=changes)
            case RetentionWarning(account=account, path=path, age_days=age):
                host.on_retention_warning(account=account, path=path, age_days=age)
            case Missing(expectation=expectation, cleared=cleared):
                host.on_missing(expectation=expectation, cleared=cleared)
            case _:
                pass  # alerts without a hook yet are logged where they happen

    return emit


def fan_out(emitters: Iterable[Emit]) -> Emit:
    """One ``emit`` that calls each of ``emitters``; an exception in one is logged, never raised."""
    targets = list(emitters)

    def emit(event: Event) -> None:
        for target in targets:
            try:
                target(event)
            except Exception:  # an alert must never stop a transfer
                log.exception("event handler failed for %s", type(event).__name__)

    return emit


@dataclass
class Recorder:
    """An ``emit`` that keeps every event (tests, demo summary)."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        """The recorded events of one type."""
        return [e for e in self.events if isinstance(e, kind)]
