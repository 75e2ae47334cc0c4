"""Reading ``[alerts]`` from the agent config, and sending alerts from a worker thread.

Events arrive on the agent's event loop; an SMTP server or webhook that is slow or down must never
hold up a transfer, so alerts are queued and sent by one daemon thread. The same alert (same kind
and file or path) is sent once per ``repeat_hours``: the retention check runs every round and would
otherwise repeat itself every poll_interval.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from sf1630.api import Place, build_options, option
from sf1630.errors import ConfigError
from sf1630_plugins.alerts.email import EmailChannel, EmailOptions
from sf1630_plugins.alerts.message import KINDS, Alert
from sf1630_plugins.alerts.webhook import WebhookChannel, WebhookOptions

log = logging.getLogger("sf1630.alerts")


class Channel(Protocol):
    """Where alerts go: e-mail, webhook."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver one alert; raise when it could not be delivered."""


@dataclass
class AlertOptions:
    """The ``[alerts]`` table itself (its sub-tables configure the channels)."""

    events: list[str] = option(list(KINDS), f"which alerts to send: any of {', '.join(KINDS)}")
    repeat_hours: float = option(24.0, "send the same alert (kind and file) again only after this many hours")
    email: Any = option(None, "[alerts.email]: alerts by e-mail (sf1630_plugins.alerts.email.EmailOptions)")
    webhook: Any = option(None, "[alerts.webhook]: alerts to a webhook "
                                "(sf1630_plugins.alerts.webhook.WebhookOptions)")

    def __post_init__(self) -> None:
        unknown = [e for e in self.events if e not in KINDS]
        if unknown:
            raise ValueError(f"[alerts] events: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(KINDS)}")


def channels_from(table: dict[str, Any], place: Place | None = None) -> tuple[AlertOptions, list[Channel]]:
    """Build the options and the enabled channels of an ``[alerts]`` table; ConfigError says what is
    wrong, with the file and line when ``place`` (``config.place(("alerts",))``) says where the table is."""
    place = place or Place(("alerts",))
    if not isinstance(table, dict):
        raise ConfigError(f"{Place((), place.file, place.line_of).at()}: write [alerts] as a table")
    options = build_options(AlertOptions, table, place)
    base = place.file.parent if place.file else None
    channels: list[Channel] = []
    for name, opts_cls, channel_cls in (("email", EmailOptions, EmailChannel),
                                        ("webhook", WebhookOptions, WebhookChannel)):
        sub = table.get(name)
        if sub is None:
            continue
        if not isinstance(sub, dict):
            raise ConfigError(f"{place.sub(name).at()}: write [alerts.{name}] as a table")
        opts = build_options(opts_cls, sub, place.sub(name), base=base)
        if opts.enabled:
            channels.append(channel_cls(opts))
    return options, channels


class Dispatcher:
    """Queues alerts and sends them to every channel from a daemon thread."""

    def __init__(self, channels: list[Channel], *, events: list[str] | tuple[str, ...] = KINDS,
                 repeat_hours: float = 24.0, clock: Any = time.monotonic):
        self.channels = list(channels)
        self.events = set(events)
        self.repeat = repeat_hours * 3600.0
        self.clock = clock
        self.sent: list[tuple[str, Alert]] = []  # (channel name, alert) delivered, newest last
        self.errors: list[tuple[str, Alert, str]] = []
        self._last: dict[str, float] = {}
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="sf1630-alerts", daemon=True)
        self._thread.start()

    def submit(self, alert: Alert) -> bool:
        """Queue ``alert`` unless its kind is not wanted or it was sent within repeat_hours."""
        if alert.kind not in self.events or not self.channels:
            return False
        now = self.clock()
        last = self._last.get(alert.key)
        if last is not None and now - last < self.repeat:
            log.debug("alert %s sent %.0f s ago; not repeated", alert.key, now - last)
            return False
        self._last[alert.key] = now
        self._queue.put(alert)
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued alert was handled (True) or ``timeout`` passed (False)."""
        done = threading.Event()
        self._queue.put(_Marker(done))  # type: ignore[arg-type]
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Send what is queued (up to ``timeout``), then stop the thread."""
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(1.0)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Marker):
                item.done.set()
                continue
            for channel in self.channels:
                self._deliver(channel, item)

    def _deliver(self, channel: Channel, alert: Alert) -> None:
        for attempt in (1, 2):  # one retry: a relay restarting should not cost an alert
            try:
                channel.send(alert)
            except Exception as exc:
                if attempt == 2:
                    log.error("alert not sent by %s: %s (%s: %s)", channel, alert.title, type(exc).__name__, exc)
                    self.errors.append((channel.name, alert, f"{type(exc).__name__}: {exc}"))
                    return
                time.sleep(2.0)
                continue
            log.info("alert sent by %s: %s", channel, alert.title)
            self.sent.append((channel.name, alert))
            return


@dataclass
class _Marker:
    done: threading.Event
