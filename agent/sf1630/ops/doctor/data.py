"""Checks of the data ends: each sink can be reached and written, each source's adapter can be read.

A sink plugin may define ``check(options, timeout)`` and a source ``check(job)``: read only, or a
write in a transaction that is rolled back; they return what they verified, or raise saying what
is wrong. A plugin without ``check`` is named as not checked (a warning, never a pass).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sf1630.api import Job
from sf1630.ops.doctor.findings import Finding, error, ok, warn
from sf1630.options import build_options

SINK_FIX = ("check the sink's options (connection string or its environment variable, user, password, "
            "database, schema) and that the user may create tables and insert there")
SOURCE_FIX = "check the source's adapter options (url or url_env, query, folder) and the user's rights"


def check_sinks(cfg: Any, host: Any, timeout: float) -> list[Finding]:
    """Each ``[[receive.sinks]]``: connect and try a write that is rolled back."""
    findings = []
    for m in cfg.municipalities:
        for sc in (m.receive.sinks if m.receive else ()):
            topic = f"sink {m.municipality.key} {sc.type}"
            try:
                sink = host.sink(sc.type)
                options = build_options(sink.Options, dict(sc.options), str(m.path), base=m.path.parent)
            except Exception:  # reported by the config check
                continue
            findings.append(_run(topic, getattr(sink, "check", None), (options, timeout), SINK_FIX))
    return findings


def check_sources(cfg: Any, host: Any, now: datetime | None = None) -> list[Finding]:
    """Each ``[[send]]``: its adapter reaches what it reads (the SQL source answers, the folder is readable)."""
    now = now or datetime.now().replace(microsecond=0)
    findings = []
    for m in cfg.municipalities:
        for send in m.sends:
            topic = f"source {m.municipality.key} {send.source}"
            try:
                source = host.source(send.source)
                options = build_options(source.Options, dict(send.options), str(m.path), base=m.path.parent)
            except Exception:  # reported by the config check
                continue
            job = Job(municipality=m.municipality, source=source.code, recipient=send.recipient_code,
                      period=source.period(now), created=now, options=options)
            findings.append(_run(topic, getattr(source, "check", None), (job,), SOURCE_FIX))
    return findings


def _run(topic: str, check: Any, args: tuple, fix: str) -> Finding:
    if not callable(check):
        return warn(topic, "the plugin has no check: it was not tried", "run a receive or send to try it")
    try:
        return ok(topic, check(*args))
    except Exception as exc:  # any refusal is the finding
        return error(topic, f"{type(exc).__name__}: {exc}", fix)
