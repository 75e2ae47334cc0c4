"""Built-in alert plugin: e-mail (SMTP) and webhook (JSON POST), off until ``[alerts]`` configures them.

An ordinary event plugin: it reads ``[alerts]`` in ``sf1630_configure``, sends from the ``sf1630_on_*``
hooks (a failed delivery or load, a receipt overdue, a retention warning, an extract missing and
arrived, a schema change, a file from an unexpected sender, the platform unreachable too long),
sends what is queued in ``sf1630_unconfigure`` and answers ``sf1630 doctor`` through
``sf1630_doctor``. The plugin host makes one :class:`Alerts` per host, so its state is the host's,
never the module's.

Nothing is sent without ``[alerts.email]`` or ``[alerts.webhook]`` (issue #4: off by default). Alerts
carry names, sizes, counts and UUIDs only, never row data (issue #14).
"""

from __future__ import annotations

import logging
from typing import Any

from sf1630 import hookimpl
from sf1630.api import Check, Place
from sf1630_plugins.alerts import message
from sf1630_plugins.alerts.dispatch import Dispatcher, channels_from

__all__ = ["Alerts"]

log = logging.getLogger("sf1630.alerts")


class Alerts:
    """The alert channels of one agent run; idle until ``sf1630_configure`` finds ``[alerts]``."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    @hookimpl
    def sf1630_configure(self, config: Any, command: str) -> None:
        """Start sending what ``[alerts]`` asks for, in the service (``run``) only; ConfigError names
        the file, line and key of a bad table."""
        self.sf1630_unconfigure()
        table = getattr(config, "alerts", None) or {}
        if not table or command != "run":  # one-shot commands report on the terminal (OPERATIONS.md)
            return
        options, channels = channels_from(table, _place(config))
        if channels:
            self.dispatcher = Dispatcher(channels, events=options.events, repeat_hours=options.repeat_hours)
            log.info("alerts on: %s (%s)", ", ".join(map(str, channels)), ", ".join(options.events))

    @hookimpl
    def sf1630_unconfigure(self) -> None:
        """Send what is queued (up to 10 s) and stop."""
        if self.dispatcher is not None:
            self.dispatcher.close(10.0)
            self.dispatcher = None

    @hookimpl
    def sf1630_doctor(self, config: Any, send_test: bool) -> list[Check]:
        """Whether ``[alerts]`` builds and where alerts go; with ``send_test``, one test alert per channel."""
        table = getattr(config, "alerts", None) or {}
        if not table:
            return [Check("ok", "alerts", "off (no [alerts] table)")]
        try:
            options, channels = channels_from(table, _place(config))
        except Exception as exc:
            return [Check("error", "alerts", str(exc), "correct the [alerts] table")]
        if not channels:
            return [Check("warn", "alerts", "[alerts] is there but every channel is disabled (enabled = false)")]
        found = [Check("ok", "alerts", f"{', '.join(map(str, channels))}; on {', '.join(options.events)}")]
        return found + [_send_test(channel) for channel in channels] if send_test else found

    def _submit(self, alert: message.Alert) -> None:
        if self.dispatcher is not None:
            self.dispatcher.submit(alert)

    @hookimpl
    def sf1630_on_failed(self, transfer: Any, reason: str) -> None:
        """Alert on an error receipt (delivery failed) or a load that failed."""
        self._submit(message.failed(transfer, reason))

    @hookimpl
    def sf1630_on_receipt_overdue(self, transfer: Any, waited: float) -> None:
        """Alert when no receipt came within receipt_timeout (issue #13)."""
        self._submit(message.receipt_overdue(transfer, waited))

    @hookimpl
    def sf1630_on_retention_warning(self, account: str, path: str, age_days: float) -> None:
        """Alert on a file of ours that the platform will soon delete (PROTOCOL.md rule 8)."""
        self._submit(message.retention_warning(account, path, age_days))

    @hookimpl
    def sf1630_on_missing(self, expectation: Any, cleared: bool) -> None:
        """Alert when an expected extract is overdue, and again when it arrives (issue #14)."""
        self._submit(message.missing(expectation, cleared))

    @hookimpl
    def sf1630_on_schema_changed(self, delivery: Any, sink: str, changes: Any) -> None:
        """Alert when a load changed a table's columns (issue #17)."""
        self._submit(message.schema_changed(delivery, sink, changes))

    @hookimpl
    def sf1630_on_stray(self, account: str, path: str, sender: str | None) -> None:
        """Alert on a file from a sender not in expected_senders (other strays are logged only)."""
        if sender:
            self._submit(message.unexpected_sender(account, path, sender))

    @hookimpl
    def sf1630_on_unreachable(self, account: str, environment: str, since: float, reason: str) -> None:
        """Alert when the platform has been unreachable longer than unreachable_alert_seconds (issue #17)."""
        self._submit(message.unreachable(account, environment, since, reason))


def _place(config: Any) -> Place:
    """Where ``[alerts]`` is written: the agent config says (``AgentConfig.place``)."""
    place = getattr(config, "place", None)
    return place(("alerts",)) if callable(place) else Place(("alerts",))


def _send_test(channel: Any) -> Check:
    alert = message.Alert("test", "test alert from sf1630 doctor", "test",
                          {"note": "nothing is wrong; this checks the channel"})
    try:
        channel.send(alert)
    except Exception as exc:  # any refusal of the server is the finding
        return Check("error", f"alerts {channel.name}", f"test alert not sent by {channel}: {type(exc).__name__}: {exc}",
                     "check the server, port, tls, login and addresses of the channel")
    return Check("ok", f"alerts {channel.name}", f"test alert sent by {channel}")
