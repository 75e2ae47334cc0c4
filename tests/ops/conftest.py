"""Fixtures for operations: the simulator on a thread, a local SMTP server, a webhook receiver, sshd.

Everything is real and local: the platform simulator over SFTP, an SMTP server and an HTTP server
on loopback ports, OpenSSH's sshd started as this user.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sf1630.simulator.sandbox import FIVE_SOURCES, TWO_MUNICIPALITIES, Sandbox

from .smtp import SmtpServer

KY = next(s for s in FIVE_SOURCES if s.source == "ky")
IKAST, HERNING = TWO_MUNICIPALITIES


class Platform:
    """The simulator on its own event-loop thread."""

    def __init__(self, sandbox: Sandbox):
        from sf1630.simulator.server import Platform as Server

        self.sandbox = sandbox
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = Server(sandbox.platform_config(settle_seconds=0.0))
        self.run(self.server.start())
        self.port = self.server.port
        sandbox.trust(self.port)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 15) -> None:
        self.run(self.server.wait_idle(timeout), timeout + 5)

    def stop(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """The simulator with KY sending to the LIS of Ikast-Brande and Herning."""
    running = Platform(Sandbox(tmp_path, sources=(KY,), municipalities=TWO_MUNICIPALITIES))
    yield running
    running.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A local SMTP server without login."""
    with SmtpServer() as server:
        yield server


class Webhook:
    """An HTTP server that keeps every JSON body POSTed to it and answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.status = 204
        self.arrived = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.arrived:
                    hook.bodies.append(json.loads(body))
                    hook.headers.append(dict(self.headers))
                    hook.arrived.notify_all()
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.bodies) >= count, timeout):
                raise AssertionError(f"{len(self.bodies)} POST(s) arrived, expected {count}")
        return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A local webhook receiver."""
    hook = Webhook()
    yield hook
    hook.close()


def sf1630(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sf1630 ARGS``; the finished process with text output."""
    return subprocess.run([sys.executable, "-m", "sf1630", "--log-level", "WARNING", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def in_process(*args: str) -> Callable[[pytest.CaptureFixture], tuple[int, str, str]]:
    """Run ``sf1630 ARGS`` in this process; call the result with capsys for (status, out, err)."""
    from sf1630.cli.main import main

    def go(capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
        status = main(["--log-level", "ERROR", *args])
        out, err = capsys.readouterr()
        return status, out, err

    return go
