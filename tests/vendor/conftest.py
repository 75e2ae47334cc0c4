"""Fixtures for what vendors need (issue #14): the simulator on a thread, a source and a LIS agent.

``world`` starts the platform simulator (port 0, fresh keys, no settle time) for one source system
(KY) and one municipality (Ikast-Brande). ``world.sender()`` and ``world.lis()`` write agent
configs; ``send``/``receive`` run a round in-process, ``cli`` runs ``python -m sf1630``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sf1630.events import Recorder
from sf1630.simulator.sandbox import FIVE_SOURCES, TWO_MUNICIPALITIES, Sandbox

KY = next(s for s in FIVE_SOURCES if s.source == "ky")
IKAST = TWO_MUNICIPALITIES[0]
PG_URL = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class World:
    """The simulator on its own event-loop thread, and agent configs for it."""

    def __init__(self, root: Path):
        from sf1630.simulator.server import Platform

        self.root = root
        self.sandbox = Sandbox(root, sources=(KY,), municipalities=(IKAST,))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.platform = Platform(self.sandbox.platform_config(settle_seconds=0.0))
        self.run(self.platform.start())
        self.sandbox.trust(self.platform.port)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 15) -> None:
        self.run(self.platform.wait_idle(timeout), timeout + 5)

    def files(self, user: str, folder: str) -> list[str]:
        path = self.platform.root / user / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def sender(self, name: str = "source-vendor", *, options: dict | None = None, **agent: Any) -> Path:
        """A source vendor's agent.toml sending KY to Ikast-Brande; ``options`` replace [send.options]."""
        path = self.sandbox.write_agent(name, receive=False, rows=5, agent={"receipt_timeout": 30, **agent})
        if options is not None:
            edit_toml(municipality_file(path), lambda doc: doc["send"][0].update(options=options))
        return path

    def lis(self, name: str = "lis-vendor", *, sinks: list[dict] | None = None, expect: list[dict] | None = None,
            **agent: Any) -> Path:
        """A LIS vendor's agent.toml receiving for Ikast-Brande into ``sinks`` (default SQLite)."""
        sinks = sinks or [{"type": "sqlite", "options": {"path": str(self.root / name / "lis.sqlite3")}}]
        path = self.sandbox.write_agent(name, send=False, sinks=sinks, agent=agent)
        if expect:
            edit_toml(municipality_file(path), lambda doc: doc["receive"].update(expect=expect))
        return path

    def register_only(self, user: str, public_key: str) -> None:
        """Restart the platform (same port and host key) with ``public_key`` as ``user``'s only key."""
        from sf1630.simulator.server import Platform

        port = self.platform.port
        self.run(self.platform.stop())
        self.sandbox.public_keys[user] = public_key.strip()
        config = self.sandbox.platform_config(settle_seconds=0.0)
        config.server.port = port
        self.platform = Platform(config)
        self.run(self.platform.start())

    def stop(self) -> None:
        try:
            self.run(self.platform.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema name on the local server; dropped after the test."""
    import psycopg

    name = f"sf1630_vendor_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_rows(schema: str, query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(query).fetchall()


def municipality_file(agent_toml: Path) -> Path:
    return agent_toml.parent / "municipalities" / f"{IKAST.key}.toml"


def edit_toml(path: Path, change: Callable[[dict], None]) -> None:
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))


def journal_path(agent_toml: Path) -> Path:
    return agent_toml.parent / "state" / "journal.sqlite"


def send(agent_toml: Path, **kw: Any) -> tuple[Any, Recorder]:
    """One send round in-process (``kw``: period, resend_reason, resend_by); the summary and events."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import send_round
    from sf1630.agent.runtime import Selection, build_runtime

    recorder = Recorder()

    async def go() -> Any:
        rt = build_runtime(load_config(agent_toml), emitters=[recorder])
        try:
            return await send_round(rt, Selection(), asyncio.Event(), **kw)
        finally:
            await rt.aclose()

    return asyncio.run(go()), recorder


def receive(agent_toml: Path) -> tuple[list, Recorder]:
    """One receive round in-process; the round reports and events."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import make_receiver, receive_round
    from sf1630.agent.runtime import Selection, build_runtime

    recorder = Recorder()

    async def go() -> list:
        rt = build_runtime(load_config(agent_toml), emitters=[recorder])
        try:
            return await receive_round(rt, make_receiver(rt, asyncio.Event()), Selection())
        finally:
            await rt.aclose()

    return asyncio.run(go()), recorder


def cli(*args: str, env: dict[str, str] | None = None, umask: int | None = None,
        timeout: float = 90) -> subprocess.CompletedProcess:
    """Run ``python -m sf1630 ARGS`` (text output); ``umask`` is set in the child before it starts."""
    def before() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "sf1630", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, preexec_fn=before)


class Webhook:
    """A loopback HTTP server keeping every JSON body POSTed to it (alerts)."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[dict] = []
        self.changed = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with hook.changed:
                    hook.bodies.append(body)
                    hook.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.bodies) >= count, timeout), self.bodies
        return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()


class FakeClock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
