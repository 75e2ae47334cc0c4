"""Fixtures for the reliability suite (issue #5): the simulator, a fault proxy in front of it, agents.

The flows suite's fixtures start the simulator on its own event-loop thread and write agent
configs; here ``make_world`` also puts a ``FaultProxy`` between the agents and the simulator, so
the agent configs and known_hosts name the proxy's port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flows.conftest import (  # noqa: F401  (fixtures are found by name)
    AULA, HERNING, IKAST, KY, RunningPlatform, journal_rows, lis_database, loaded_rows, make_agent_config,
    make_platform, run_receive, run_send, sf1630,
)
from sf1630.testing.faultproxy import FaultProxy

from .world import check_totals


@dataclass
class World:
    """A running simulator, the proxy in front of it, and the agent configs made for it."""

    platform: RunningPlatform
    proxy: FaultProxy
    sender: Path
    lis: Path

    def totals(self):
        """The issue #5 check over this world's sender and LIS."""
        return check_totals([self.sender], [(self.lis, lis_database(self.lis))], self.platform.root)

    def assert_all_once(self, expected_files: int) -> None:
        """Every extract delivered and loaded exactly once, every row once, nothing left behind."""
        totals = self.totals()
        assert totals.problems == [], "\n".join(totals.problems)
        assert (totals.sent, totals.loaded) == (expected_files, expected_files)


@pytest.fixture
def make_world(make_platform, make_agent_config) -> Iterator[Callable[..., World]]:
    """``make_world(sources=(KY,), municipalities=(IKAST,), rows=20, agent=..., lis_agent=..., sinks=...)``.

    ``agent`` settings go to both agents, ``lis_agent`` to the LIS agent only.
    """
    proxies: list[FaultProxy] = []

    def make(sources=(KY,), municipalities=(IKAST,), rows: int = 20, agent: dict[str, Any] | None = None,
             sinks: list[dict[str, Any]] | None = None, lis_agent: dict[str, Any] | None = None,
             **platform: Any) -> World:
        running = make_platform(sources=sources, municipalities=municipalities, **platform)
        proxy = FaultProxy.start_thread("127.0.0.1", running.port)
        proxies.append(proxy)
        running.sandbox.trust(proxy.port)  # agents reach the platform through the proxy only
        settings = {"receipt_timeout": 60, **(agent or {})}
        sender = make_agent_config(running, "source-vendor", receive=False, rows=rows, agent=dict(settings))
        lis_kw = {"sinks": sinks} if sinks else {}
        lis = make_agent_config(running, "lis-vendor", send=False, agent={**settings, **(lis_agent or {})}, **lis_kw)
        return World(running, proxy, sender, lis)

    yield make
    for proxy in proxies:
        proxy.close()
