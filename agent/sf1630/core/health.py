"""Whether each account reaches the platform: journalled, logged once, exported and alerted (issue #17).

:class:`~sf1630.core.remote.Remote` reports here each failed connection (``failed``) and each operation that
works (``ok``). An account that fails opens a ``platform_unreachable`` problem in the journal (so
``sf1630 status`` shows it, also from another process) and logs one line; the first success closes
it. Each change is a :class:`~sf1630.events.Reachability` event (the ``sf1630_platform_up`` metric),
and ``check`` emits :class:`~sf1630.events.Unreachable` once an account has been down longer than
``alert_after`` seconds (``sf1630 run`` calls it every minute; the alerts plugin sends it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sf1630.journal.base import PLATFORM_UNREACHABLE
from sf1630.events import Emit, Reachability, Unreachable

log = logging.getLogger("sf1630.core.health")


class Health:
    """Reachability of the platform per account; ``journal`` may be None (nothing journalled)."""

    def __init__(self, journal: Any, emit: Emit, *, environment: str = "", alert_after: float = 900.0,
                 clock: Callable[[], float] = time.time):
        self.journal, self.emit, self.environment = journal, emit, environment
        self.alert_after, self.clock = alert_after, clock
        self._down: dict[str, tuple[float, str]] = {}  # account -> (since, reason)
        self._known: set[str] = set()
        self._alerted: set[str] = set()
        known = getattr(journal, "list_problems", None)  # a dry run's empty journal has none
        for p in (known(PLATFORM_UNREACHABLE) if known is not None else ()):
            self._down[p.key] = (p.since, p.message)

    def ok(self, account: str) -> None:
        """An operation of ``account`` worked: the platform is reachable (cheap when nothing changed)."""
        if account in self._known and account not in self._down:
            return
        self._known.add(account)
        down = self._down.pop(account, None)
        self._alerted.discard(account)
        if down is not None:
            if self.journal is not None:
                self.journal.resolve_problem(PLATFORM_UNREACHABLE, account, self.clock(), "the agent")
            log.info("%s: the platform is reachable again (unreachable for %.0f s)", account,
                     self.clock() - down[0])
        self.emit(Reachability(account=account, environment=self.environment, up=True))

    def failed(self, account: str, reason: str) -> None:
        """``account`` could not connect; ``reason`` says how (refused, timed out, lost)."""
        now = self.clock()
        self._known.add(account)
        first = account not in self._down
        since = now if first else self._down[account][0]
        self._down[account] = (since, reason)
        if self.journal is not None:
            self.journal.note_problem(PLATFORM_UNREACHABLE, account, f"the platform is unreachable: {reason}", now,
                                      account=account)
        if first:  # INFO: the retries follow; giving up is said at ERROR, an alert comes after alert_after
            log.info("%s: cannot reach the platform: %s", account, reason, extra={"account": account})
            self.emit(Reachability(account=account, environment=self.environment, up=False, reason=reason))
        self.check()

    def down(self, account: str) -> str | None:
        """Why ``account`` is unreachable, or None."""
        found = self._down.get(account)
        return found[1] if found else None

    def check(self) -> list[Unreachable]:
        """Emit ``Unreachable`` once for each account down longer than ``alert_after``."""
        now, events = self.clock(), []
        for account, (since, reason) in self._down.items():
            if account not in self._alerted and now - since >= self.alert_after:
                self._alerted.add(account)
                log.error("%s: the platform has been unreachable for %.0f s: %s", account, now - since, reason)
                events.append(Unreachable(account=account, environment=self.environment, since=since,
                                          reason=reason))
                self.emit(events[-1])
        return events
