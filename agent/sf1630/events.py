"""Events the sender and receiver emit: declared once, here.

Each event is a frozen dataclass that names the hook carrying it to plugins (``hook``; its fields are
the hook's arguments) and its label in ``sf1630_events_total`` (``metric``). The plugin host, the
emitter and the metrics follow from this table, so a new event is two edits: the dataclass here and
its hookspec in ``hookspecs.py`` (tests/meta checks that the two agree). The core knows nothing of
plugins (STYLE.md): sender and receiver call an ``emit(event)`` callable; tests and the demo can pass
any callable (or a :class:`Recorder`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from sf1630.api import Delivery, Expectation, LoadResult, Transfer

log = logging.getLogger("sf1630.events")


@dataclass(frozen=True)
class Event:
    """What every event has: the hook that carries it to plugins, and its metric label (or None)."""

    hook: ClassVar[str | None] = None
    metric: ClassVar[str | None] = None

    def hook_args(self) -> dict[str, Any]:
        """The event's fields, by name: the arguments of its hook."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Delivered(Event):
    """A send got a SUCCESS receipt."""

    hook: ClassVar[str | None] = "sf1630_on_delivered"
    metric: ClassVar[str | None] = "delivered"

    transfer: Transfer


@dataclass(frozen=True)
class Failed(Event):
    """A send got an error receipt, or a load failed (the file is in quarantine)."""

    hook: ClassVar[str | None] = "sf1630_on_failed"
    metric: ClassVar[str | None] = "failed"

    transfer: Transfer
    reason: str
    codes: tuple[int, ...] = ()  # the error receipt's codes, in order; empty for a failed load


@dataclass(frozen=True)
class Received(Event):
    """A delivered file is durable in the spool and deleted from the server (rule 4)."""

    hook: ClassVar[str | None] = "sf1630_on_received"
    metric: ClassVar[str | None] = "received"

    delivery: Delivery
    transfer: Transfer


@dataclass(frozen=True)
class Loaded(Event):
    """One sink loaded a delivered file."""

    hook: ClassVar[str | None] = "sf1630_on_loaded"
    metric: ClassVar[str | None] = "loaded"

    delivery: Delivery
    sink: str
    result: LoadResult


@dataclass(frozen=True)
class LoadFinished(Event):
    """Every sink has loaded a delivered file. ``rows`` counts the file's rows once, however many sinks
    took them (0 when every sink had it from before)."""

    hook: ClassVar[str | None] = None
    metric: ClassVar[str | None] = None

    delivery: Delivery
    transfer: Transfer
    rows: int


@dataclass(frozen=True)
class SchemaChanged(Event):
    """A sink changed a table because a source's header changed (issue #14)."""

    hook: ClassVar[str | None] = "sf1630_on_schema_changed"
    metric: ClassVar[str | None] = "schema_changed"

    delivery: Delivery
    sink: str
    changes: tuple  # sf1630.api.SchemaChange records


@dataclass(frozen=True)
class RetentionWarning(Event):
    """A file of our own on the server is older than warn_days (rule 8)."""

    hook: ClassVar[str | None] = "sf1630_on_retention_warning"
    metric: ClassVar[str | None] = "retention_warning"

    account: str
    path: str
    age_days: float


@dataclass(frozen=True)
class ReceiptOverdue(Event):
    """No receipt within receipt_timeout; the sender keeps waiting (issue #13)."""

    hook: ClassVar[str | None] = "sf1630_on_receipt_overdue"
    metric: ClassVar[str | None] = "receipt_overdue"

    transfer: Transfer
    waited: float


@dataclass(frozen=True)
class Stray(Event):
    """A file on the server the agent does not take: data without metadata, or bad metadata."""

    hook: ClassVar[str | None] = "sf1630_on_stray"
    metric: ClassVar[str | None] = "stray"

    account: str
    path: str
    reason: str
    removed: bool = False
    sender: str | None = None  # set when the file came from a sender not in expected_senders


@dataclass(frozen=True)
class Missing(Event):
    """An expected extract is overdue (``cleared`` False), or it came after all (``cleared`` True). Issue #14."""

    hook: ClassVar[str | None] = "sf1630_on_missing"
    metric: ClassVar[str | None] = "missing"

    expectation: Expectation
    cleared: bool = False


@dataclass(frozen=True)
class Reachability(Event):
    """An account reached the platform (``up``) or gave up trying (issue #17)."""

    hook: ClassVar[str | None] = None
    metric: ClassVar[str | None] = None

    account: str
    environment: str
    up: bool
    reason: str = ""  # how it failed: refused, timed out, lost


@dataclass(frozen=True)
class Unreachable(Event):
    """An account has not reached the platform for longer than unreachable_alert_seconds (issue #17)."""

    hook: ClassVar[str | None] = "sf1630_on_unreachable"
    metric: ClassVar[str | None] = "unreachable"

    account: str
    environment: str
    since: float
    reason: str


@dataclass(frozen=True)
class Progress(Event):
    """Bytes moved, for progress display only."""

    hook: ClassVar[str | None] = None
    metric: ClassVar[str | None] = None

    kind: str  # "upload" | "download"
    nbytes: int


Emit = Callable[[Event], None]


def all_events() -> list[type[Event]]:
    """Every event type, in declaration order."""
    return list(Event.__subclasses__())


def plugin_emitter(host: Any) -> Emit:
    """An ``emit`` that hands each event with a hook to the plugin host (exceptions are logged there)."""

    def emit(event: Event) -> None:
        if event.hook is not None:
            host.fire(event)

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
