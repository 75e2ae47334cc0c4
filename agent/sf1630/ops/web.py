"""One HTTP port for a running agent: ``/`` the status page, ``/api/status``, ``/healthz``, ``/metrics``.

``sf1630 run --http-port [HOST:]PORT`` (or ``[agent] http_port`` and ``http_bind``) starts it on a
daemon thread; ``--metrics-port`` is the same server under its old name (issue #24). What it serves
comes in as callables (a :class:`Site`), so this module needs nothing of the layers above it.
Only names, counts, sizes, times and codes are served, never row data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sf1630.errors import ConfigError
from sf1630.journal import describe, exists, open_journal
from sf1630.ops.metrics import CONTENT_TYPE as METRICS_TYPE
from sf1630.ops.metrics import Metrics
from sf1630.ops.overview import build_overview
from sf1630.ops.page import render_page

log = logging.getLogger("sf1630.web")

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@dataclass
class Site:
    """What the server shows. ``health`` returns what is wrong (empty: healthy)."""

    metrics: Metrics
    status: Callable[[], dict[str, Any]]
    page: Callable[[str | None], str]  # the requested period (or None) -> HTML
    health: list[Callable[[], str | None]] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        for probe in self.health:
            try:
                problem = probe()
            except Exception as exc:  # a probe that breaks is itself a reason to be unhealthy
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                found.append(problem)
        return found


class WebServer:
    """The site on a daemon thread; ``port`` is the bound port (also when asked for 0). An Emit too."""

    def __init__(self, site: Site, host: str = "127.0.0.1", port: int = 0):
        self.site = site
        handler = type("Handler", (_Handler,), {"site": site})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="sf1630-web", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> WebServer:
        self._thread.start()
        log.info("serving the status page on %s (and /metrics, /healthz, /api/status)", self.url)
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __call__(self, event: Any) -> None:
        self.site.metrics(event)


def agent_site(cfg: Any, journal: Any, host: Any, metrics: Metrics, status: Callable[[], dict[str, Any]],
               probes: tuple[Callable[[], str | None], ...] = (), refresh: int = 60) -> Site:
    """The site of an agent: the page from ``journal`` (read only), healthy while the probes and journal are."""
    def page(period: str | None) -> str:
        return render_page(build_overview(cfg, journal, time.time(), host), period, refresh=refresh)

    return Site(metrics, status, page, [*probes, lambda: journal_problem(cfg.journal)])


def listen(site: Site, host: str, port: int, option: str = "--http-port") -> WebServer:
    """Start serving ``site`` on ``host``:``port``; a port in use is a ConfigError naming ``option``."""
    try:
        server = WebServer(site, host, port)
    except OSError as exc:
        raise ConfigError(f"{option} {port}: cannot listen on {host}:{port}: {exc.strerror}; choose a free "
                          "port, or another address with http_bind") from exc
    return server.start()


def journal_problem(location: Path | str) -> str | None:
    """Why the journal (a file or a postgresql:// URL) does not answer a read from a fresh connection, or None."""
    where = describe(location)  # a URL without its password
    if not exists(location):  # an open connection still works on a removed file; nothing would be kept
        return f"the journal {where} is missing; restore it or restart the agent"
    try:
        journal = open_journal(location)
    except Exception as exc:
        return f"the journal {where} cannot be opened: {exc}"
    try:
        journal.counts()
    except Exception as exc:
        return f"the journal {where} does not answer: {exc}"
    finally:
        journal.close()
    return None


def loop_problem(task: Any, loop: asyncio.AbstractEventLoop, stop: asyncio.Event,
                 wait: float = 5.0) -> Callable[[], str | None]:
    """A probe: None while ``task`` (the scheduler) runs and its event loop answers within ``wait`` s."""

    def probe() -> str | None:
        if task is None or task.done():
            return "the scheduler is not running"
        if stop.is_set():
            return "the agent is stopping"
        answer = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
        try:
            answer.result(wait)
        except TimeoutError:
            answer.cancel()
            return f"the scheduler's event loop has not answered for {wait:g} s"
        return None
    return probe


def address(spec: str | int, default_host: str, option: str) -> tuple[str, int]:
    """``"9630"`` -> (default_host, 9630); ``"0.0.0.0:9630"`` and ``"[::1]:9630"`` name the address too."""
    text = str(spec).strip()
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{option} {text!r}: write a port (e.g. 9630) or HOST:PORT (e.g. 0.0.0.0:9630)")
    return host.strip("[]") or default_host, int(port)


class _Handler(BaseHTTPRequestHandler):
    site: Site
    server_version = "sf1630"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        route = {"/": self._page, "/index.html": self._page, "/api/status": self._status,
                 "/healthz": self._healthz, "/metrics": self._metrics}.get(url.path)
        if route is None:
            self._send(404, TEXT, f"nothing at {url.path}; try / /api/status /healthz /metrics\n")
            return
        try:
            route(parse_qs(url.query))
        except Exception as exc:  # say what broke; the agent keeps running
            log.exception("web: %s failed", url.path)
            self._send(500, TEXT, f"{url.path} failed: {type(exc).__name__}: {exc}\n")

    def _page(self, query: dict[str, list[str]]) -> None:
        self._send(200, HTML, self.site.page(next(iter(query.get("period", [])), None)))

    def _status(self, query: dict[str, list[str]]) -> None:
        self._send(200, JSON, json.dumps(self.site.status(), indent=2, ensure_ascii=False) + "\n")

    def _healthz(self, query: dict[str, list[str]]) -> None:
        problems = self.site.problems()
        self._send(503 if problems else 200, TEXT, "\n".join(problems or ["ok"]) + "\n")

    def _metrics(self, query: dict[str, list[str]]) -> None:
        self._send(200, METRICS_TYPE, self.site.metrics.render())

    def _send(self, code: int, kind: str, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web: " + format, *args)
