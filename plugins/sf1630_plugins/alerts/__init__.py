"""Built-in alert plugin: e-mail (SMTP) and webhook (JSON POST), off until ``[alerts]`` configures them.

It is an event plugin like any other: ``sf1630_on_failed`` (a failed delivery, or a load that
failed and went to quarantine), ``sf1630_on_retention_warning`` (PROTOCOL.md rule 8) and
``sf1630_on_missing`` (an expected extract overdue, then arrived; issue #14) and
``sf1630_on_schema_changed`` (issue #17) reach it through the plugin host. A missing receipt, the
platform unreachable too long and a file from an unexpected sender have no hook yet, so
:func:`activate` also returns an ``emit`` target for those events (``sf1630 run`` passes it on).

Nothing is sent until :func:`activate` has read ``[alerts.email]`` and/or ``[alerts.webhook]`` from
the agent config (issue #4: off by default). Alerts carry names, sizes, counts and UUIDs only, never
row data (issue #14).
"""

from __future__ import annotations

import logging
from typing import Any

from sf1630 import hookimpl
from sf1630_plugins.alerts import message
from sf1630_plugins.alerts.dispatch import Dispatcher, channels_from

__all__ = ["activate", "active", "deactivate"]

log = logging.getLogger("sf1630.alerts")

_dispatcher: Dispatcher | None = None


def activate(config: Any) -> Any:
    """Start sending the alerts that ``config.alerts`` asks for; returns an ``emit`` or None.

    ConfigError names the file, line and key of a bad ``[alerts]`` table. Returns None (and sends
    nothing) when the table has no enabled channel or the ``alerts`` plugin is disabled.
    """
    global _dispatcher
    deactivate()
    table = getattr(config, "alerts", None) or {}
    if not table or "alerts" in (getattr(config, "disabled_plugins", None) or ()):
        return None
    options, channels = channels_from(table, getattr(config, "path", None))
    if not channels:
        return None
    _dispatcher = Dispatcher(channels, events=options.events, repeat_hours=options.repeat_hours)
    log.info("alerts on: %s (%s)", ", ".join(map(str, channels)), ", ".join(options.events))
    return _on_event


def active() -> Dispatcher | None:
    """The running dispatcher (tests and ``sf1630 doctor`` look at it), or None when alerts are off."""
    return _dispatcher


def deactivate(timeout: float = 10.0) -> None:
    """Send what is queued (up to ``timeout`` seconds) and stop."""
    global _dispatcher
    if _dispatcher is not None:
        _dispatcher.close(timeout)
        _dispatcher = None


def _submit(alert: message.Alert) -> None:
    if _dispatcher is not None:
        _dispatcher.submit(alert)


def _on_event(event: Any) -> None:
    """Events that reach no hook yet: a receipt overdue (issue #13), the platform unreachable too long
    and a file from an unexpected sender (issue #17)."""
    from sf1630.events import ReceiptOverdue, Stray, Unreachable

    if isinstance(event, ReceiptOverdue):
        _submit(message.receipt_overdue(event.transfer, event.waited))
    elif isinstance(event, Unreachable):
        _submit(message.unreachable(event.account, event.environment, event.since, event.reason))
    elif isinstance(event, Stray) and event.sender:
        _submit(message.unexpected_sender(event.account, event.path, event.sender))


@hookimpl
def sf1630_on_schema_changed(delivery: Any, sink: str, changes: Any) -> None:
    """Alert when a load changed a table's columns (issue #17)."""
    _submit(message.schema_changed(delivery, sink, changes))


@hookimpl
def sf1630_on_failed(transfer: Any, reason: str) -> None:
    """Alert on an error receipt (delivery failed) or a load that failed."""
    _submit(message.failed(transfer, reason))


@hookimpl
def sf1630_on_missing(expectation: Any, cleared: bool) -> None:
    """Alert when an expected extract is overdue, and again when it arrives (issue #14)."""
    _submit(message.missing(expectation, cleared))


@hookimpl
def sf1630_on_retention_warning(account: str, path: str, age_days: float) -> None:
    """Alert on a file of ours that the platform will soon delete (PROTOCOL.md rule 8)."""
    _submit(message.retention_warning(account, path, age_days))
