"""Fixtures for whole flows: the simulator on its own event-loop thread, agent configs, agent runs.

``make_platform`` starts the simulator on port 0 with fresh keys and settle_seconds=0;
``make_agent_config`` writes agent.toml, municipality files, keys and known_hosts into tmp.
Agents run in-process (``run_send``/``run_receive``) or as ``python -m sf1630`` subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sf1630.events import Recorder
from sf1630.simulator.sandbox import FIVE_SOURCES, TWO_MUNICIPALITIES, Sandbox, SourceUser

KY = next(s for s in FIVE_SOURCES if s.source == "ky")
AULA = next(s for s in FIVE_SOURCES if s.source == "aula")
IKAST, HERNING = TWO_MUNICIPALITIES


class RunningPlatform:
    """The simulator on an event loop thread, with the sandbox that configured it."""

    def __init__(self, sandbox: Sandbox, **config: Any):
        from sf1630.simulator.server import Platform

        self.sandbox = sandbox
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.platform = Platform(sandbox.platform_config(**config))
        self.run(self.platform.start())
        self.port = self.platform.port
        self.root = self.platform.root
        sandbox.trust(self.port)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run ``coro`` on the platform's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 15) -> None:
        """Until no trigger is pending or in flight."""
        self.run(self.platform.wait_idle(timeout), timeout + 5)

    def files(self, user: str, folder: str) -> list[str]:
        """Names in a user's folder on the server, straight from its disk."""
        path = self.root / user / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def put(self, user: str, folder: str, name: str, data: bytes, age: float = 0.0) -> Path:
        """Place a file in a user's folder as if the platform (or someone) had, ``age`` seconds old."""
        path = self.root / user / folder / name
        path.write_bytes(data)
        if age:
            stamp = path.stat().st_mtime - age
            os.utime(path, (stamp, stamp))
        return path

    def stop(self) -> None:
        try:
            self.run(self.platform.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture
def make_platform(tmp_path: Path) -> Iterator[Callable[..., RunningPlatform]]:
    """Start the simulator (port 0, fresh keys, settle_seconds=0) for the sandbox in tmp_path."""
    started: list[RunningPlatform] = []

    def make(sources: tuple[SourceUser, ...] = (KY, AULA), municipalities=TWO_MUNICIPALITIES,
             **config: Any) -> RunningPlatform:
        sandbox = Sandbox(tmp_path, sources=sources, municipalities=municipalities)
        platform = RunningPlatform(sandbox, settle_seconds=config.pop("settle_seconds", 0.0), **config)
        started.append(platform)
        return platform

    yield make
    for platform in started:
        platform.stop()


@pytest.fixture
def make_agent_config(tmp_path: Path) -> Callable[..., Path]:
    """Write an agent file and its municipality files for a started platform; returns agent.toml.

    ``sqlite`` names the LIS database (default tmp/<name>/lis.sqlite3); other keywords go to
    ``Sandbox.write_agent`` (send, receive, rows, sinks, agent settings, sources, municipalities).
    """

    def make(platform: RunningPlatform, name: str = "agent", **kw: Any) -> Path:
        if kw.get("receive", True) and "sinks" not in kw:
            kw["sinks"] = [{"type": "sqlite", "options": {"path": str(tmp_path / name / "lis.sqlite3")}}]
        kw.setdefault("agent", {}).setdefault("receipt_timeout", 30)
        return platform.sandbox.write_agent(name, **kw)

    return make


def edit_toml(path: Path, change: Callable[[dict], None]) -> None:
    """Change a TOML file in place (e.g. a municipality file's recipients)."""
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))


def lis_database(agent_toml: Path) -> Path:
    return agent_toml.parent / "lis.sqlite3"


def run_send(agent_toml: Path, selection: dict | None = None, **send: Any) -> tuple[Any, Recorder]:
    """One send round in-process (``send``: period, resend_reason, ...); returns the SendSummary and events."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import send_round
    from sf1630.agent.runtime import Selection, build_runtime

    recorder = Recorder()

    async def go():
        rt = build_runtime(load_config(agent_toml), emitters=[recorder])
        try:
            return await send_round(rt, Selection(**(selection or {})), asyncio.Event(), **send)
        finally:
            await rt.aclose()

    return asyncio.run(go()), recorder


def run_receive(agent_toml: Path, **settings: Any) -> tuple[list, Recorder]:
    """One receive round in-process; returns the round reports and the events."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import make_receiver, receive_round
    from sf1630.agent.runtime import Selection, build_runtime

    recorder = Recorder()

    async def go():
        rt = build_runtime(load_config(agent_toml), emitters=[recorder])
        try:
            return await receive_round(rt, make_receiver(rt, asyncio.Event(), **settings), Selection())
        finally:
            await rt.aclose()

    return asyncio.run(go()), recorder


def sf1630(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m sf1630 ARGS`` and return the finished process (text output)."""
    return subprocess.run([sys.executable, "-m", "sf1630", "--log-level", "WARNING", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def loaded_rows(database: Path) -> dict[str, tuple[int, int, int]]:
    """Per delivered file name: (rows in deliveries, rows in its table, distinct lines in its table)."""
    result = {}
    with sqlite3.connect(database) as db:
        for name, uuid, table, rows in db.execute(
                "SELECT file_name, file_transfer_uuid, table_name, rows FROM deliveries"):
            count, lines = db.execute(f'SELECT count(*), count(DISTINCT "_line") FROM "{table}" '
                                      'WHERE "_file_transfer_uuid" = ?', (uuid,)).fetchone()
            assert name not in result, f"{name} loaded twice"
            result[name] = (rows, count, lines)
    return result


def journal_rows(agent_toml: Path, kind: str) -> list[Any]:
    """Every transfer of ``kind`` in the agent's journal."""
    from sf1630.journal import open_journal

    with open_journal(agent_toml.parent / "state" / "journal.sqlite") as journal:
        return journal.transfers(kind=kind, limit=None)
