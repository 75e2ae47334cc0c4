"""Prometheus metrics of a running agent, in the text exposition format, served over HTTP (issue #4).

:class:`Metrics` is an ``emit`` target: it counts what the sender and receiver report (bytes, rows,
errors by receipt code, receipt wait time, last success per municipality and source). Attached to
the journal it also serves the transfers by state and starts its last-success gauges from what the
journal remembers, so a restart does not reset them. ``sf1630 run --http-port`` serves it on
``/metrics`` beside the status page (``sf1630.ops.web``); :class:`MetricsServer` serves it alone. No dependency: the
format is a few lines of text (https://prometheus.io/docs/instrumenting/exposition_formats/).

Labels carry names, codes and states only, never row data (issue #14).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sf1630 import __version__
from sf1630.errors import ConfigError
from sf1630.events import Delivered, Event, Failed, Loaded, LoadFinished, Missing, Progress, Reachability, Received

log = logging.getLogger("sf1630.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Receipts usually come within a minute; the platform may take hours when busy (receipt_timeout).
WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
Labels = tuple[tuple[str, str], ...]


class Histogram:
    """A cumulative histogram with fixed buckets."""

    def __init__(self, buckets: tuple[float, ...] = WAIT_BUCKETS):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    """Counters and gauges of one agent process; call it with each event (an ``Emit``)."""

    def __init__(self, journal: Any = None, *, clock: Any = time.time):
        self.version = __version__
        self.clock = clock
        self.started = clock()
        self.journal = None
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._last_success: dict[Labels, float] = {}
        # Per municipality and source: (latest deadline, 1 while it is overdue). Issues #14, #17.
        self._missing: dict[Labels, tuple[float, int]] = {}
        self._up: dict[Labels, float] = {}  # per environment and account: 1 reachable, 0 not (issue #17)
        self._wait = Histogram()
        if journal is not None:
            self.attach(journal)

    # -- input -------------------------------------------------------------------------------
    def attach(self, journal: Any) -> None:
        """Serve transfers by state from ``journal`` and start last-success times from its history."""
        self.journal = journal
        for kind, state in (("send", "delivered"), ("receive", "loaded")):
            for t in journal.transfers(kind=kind, states=[state], limit=None):
                self._success(kind, t.municipality, t.source, t.updated_at)
        for r in journal.list_missing():
            self._overdue(r.municipality, r.source, r.deadline, r.cleared_at is None)

    def __call__(self, event: Event) -> None:
        try:
            with self._lock:
                self._count(event)
        except Exception:  # metrics must never stop a transfer
            log.exception("metrics: cannot count %s", type(event).__name__)

    def _count(self, event: Event) -> None:
        name = event.metric
        if isinstance(event, Missing) and event.cleared:
            name = "missing_cleared"
        if name:
            self._inc("sf1630_events_total", (("event", name),))
        match event:
            case Delivered(transfer=t):
                where = _where("send", t.municipality, t.source)
                self._inc("sf1630_bytes_total", where, t.size or 0)
                self._inc("sf1630_rows_total", where, t.rows or 0)
                self._success("send", t.municipality, t.source, self.clock())
                self._observe_wait(t)
            case Failed(transfer=t, codes=codes):
                for code in _codes(t.kind, codes):
                    self._inc("sf1630_errors_total", (("kind", t.kind), ("code", code)))
                if t.kind == "send":
                    self._observe_wait(t)
            case Received(delivery=d):
                self._inc("sf1630_bytes_total", _where("receive", d.municipality, d.source), d.size)
            case Loaded(delivery=d):
                self._success("receive", d.municipality, d.source, self.clock())
            case LoadFinished(delivery=d, rows=rows):  # once per file, not once per sink
                self._inc("sf1630_rows_total", _where("receive", d.municipality, d.source), rows)
            case Missing(expectation=e, cleared=cleared):
                self._overdue(e.municipality, e.source, e.deadline.timestamp(), not cleared)
            case Reachability(account=account, environment=env, up=up):
                self._up[(("environment", env), ("account", account))] = 1 if up else 0
            case Progress(kind=kind, nbytes=n):
                self._inc("sf1630_transferred_bytes_total", (("direction", kind),), n)

    def _inc(self, name: str, labels: Labels, value: float = 1) -> None:
        self._counters[name][labels] += value

    def _overdue(self, municipality: str, source: str, deadline: float, overdue: bool) -> None:
        """1 while the latest deadline is unmet, 0 once it arrived: one gauge, however many deadlines passed."""
        key = (("municipality", municipality), ("source", source))
        latest = self._missing.get(key, (float("-inf"), 0))[0]
        if deadline >= latest:
            self._missing[key] = (deadline, 1 if overdue else 0)

    def _success(self, kind: str, municipality: str | None, source: str | None, at: float) -> None:
        key = _where(kind, municipality, source)
        self._last_success[key] = max(at, self._last_success.get(key, 0.0))

    def _observe_wait(self, t: Any) -> None:
        """Time from the trigger's upload to the receipt, from the journal's history of ``t``."""
        if self.journal is None:
            return
        history = self.journal.history(t.id)
        sent = [at for state, at, _ in history if state == "trigger_uploaded"]
        answered = [at for state, at, _ in history if state in ("delivered", "failed")]
        if sent and answered:
            self._wait.observe(max(0.0, answered[-1] - sent[-1]))

    # -- output ------------------------------------------------------------------------------
    def render(self) -> str:
        """The metrics in the Prometheus text format, version 0.0.4."""
        states = self._states()
        with self._lock:
            out = _family("sf1630_info", "gauge", "The agent's version.", {(("version", self.version),): 1})
            out += _family("sf1630_start_time_seconds", "gauge", "When this agent process started (Unix time).",
                           {(): self.started})
            out += _family("sf1630_transfers", "gauge", "Journalled transfers by kind and state.", states)
            out += self._counter_families()
            out += _family("sf1630_last_success_timestamp_seconds", "gauge",
                           "Last delivered send or loaded receive per municipality and source (Unix time).",
                           dict(self._last_success))
            out += _family("sf1630_missing_extracts", "gauge",
                           "Expected extracts past their deadline that have not arrived, per municipality and source.",
                           {k: v for k, (_, v) in self._missing.items()})
            out += _family("sf1630_platform_up", "gauge",
                           "1 while an account reaches the platform, 0 since it gave up trying.", dict(self._up))
            out += _histogram("sf1630_receipt_wait_seconds",
                              "Time from uploading a trigger to the platform's receipt.", self._wait)
        return "".join(out)

    def _states(self) -> dict[Labels, float]:
        if self.journal is None:
            return {}
        try:
            counts = self.journal.counts()
        except Exception as exc:  # e.g. the journal closed while stopping
            log.warning("metrics: cannot read the journal: %s", exc)
            return {}
        return {(("kind", kind), ("state", state)): n for (kind, state), n in sorted(counts.items())}

    def _counter_families(self) -> list[str]:
        helps = {
            "sf1630_events_total": "Events of the sender and receiver by kind.",
            "sf1630_bytes_total": "Bytes of delivered sends and received files per municipality and source.",
            "sf1630_rows_total": "Rows of delivered sends and of loads (duplicates excluded).",
            "sf1630_errors_total": "Errors by receipt error code (sends) or 'load' (receives).",
            "sf1630_transferred_bytes_total": "Bytes moved over SFTP, retries included.",
        }
        return [line for name, text in helps.items()
                for line in _family(name, "counter", text, dict(self._counters.get(name, {})))]


class MetricsServer:
    """``GET /metrics`` on a daemon thread; ``port`` is the bound port (also when asked for 0)."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 0):
        self.metrics = metrics
        handler = type("Handler", (_Handler,), {"metrics": metrics})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="sf1630-metrics", daemon=True)

    def start(self) -> MetricsServer:
        """Start serving; returns self."""
        self._thread.start()
        log.info("serving metrics on http://%s:%d/metrics", self.host, self.port)
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    # The server is an Emit too, so ``sf1630 run`` can pass it where events go.
    def __call__(self, event: Event) -> None:
        self.metrics(event)

    def attach(self, journal: Any) -> None:
        """See :meth:`Metrics.attach`."""
        self.metrics.attach(journal)


class _Handler(BaseHTTPRequestHandler):
    metrics: Metrics
    server_version = "sf1630-metrics"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?")[0] not in ("/metrics", "/"):
            self.send_error(404, "only /metrics is served here")
            return
        body = self.metrics.render().encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics: " + format, *args)


def parse_listen(spec: str | int) -> tuple[str, int]:
    """``"9630"`` -> ("127.0.0.1", 9630); ``"0.0.0.0:9630"`` and ``"[::1]:9630"`` name the address too."""
    text = str(spec).strip()
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"--metrics-port {text!r}: write a port (e.g. 9630) or HOST:PORT (e.g. 0.0.0.0:9630)")
    return host, int(port)


def start_metrics(spec: str | int, journal: Any = None) -> MetricsServer:
    """Start serving metrics on ``[HOST:]PORT``; attach the journal now or later with ``attach``."""
    host, port = parse_listen(spec)
    try:
        server = MetricsServer(Metrics(journal), host, port)
    except OSError as exc:
        raise ConfigError(f"--metrics-port {spec}: cannot listen on {host}:{port}: {exc.strerror}; "
                          "choose a free port") from exc
    return server.start()


def _where(kind: str, municipality: str | None, source: str | None) -> Labels:
    return (("kind", kind), ("municipality", municipality or ""), ("source", (source or "").lower()))


def _codes(kind: str, codes: tuple[int, ...]) -> list[str]:
    if kind == "receive":
        return ["load"]
    return [str(c) for c in codes] or ["none"]


def _family(name: str, kind: str, text: str, samples: dict[Labels, float]) -> list[str]:
    lines = [f"# HELP {name} {text}\n", f"# TYPE {name} {kind}\n"]
    lines += [f"{name}{_labels(labels)} {_number(value)}\n" for labels, value in sorted(samples.items())]
    return lines


def _histogram(name: str, text: str, h: Histogram) -> list[str]:
    lines = [f"# HELP {name} {text}\n", f"# TYPE {name} histogram\n"]
    lines += [f'{name}_bucket{{le="{_number(b)}"}} {c}\n' for b, c in zip(h.buckets, h.counts)]
    lines += [f'{name}_bucket{{le="+Inf"}} {h.count}\n', f"{name}_sum {_number(h.sum)}\n", f"{name}_count {h.count}\n"]
    return lines


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
