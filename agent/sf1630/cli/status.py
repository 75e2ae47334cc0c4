"""``sf1630 status``: what needs attention, recent transfers, failures, what waits, resends, repeated
deliveries, overdue extracts.

A table for people and ``--json`` for machines (issue #13; resends and overdue extracts: issue #14).
``--check`` exits 1 while anything needs attention, for cron and monitoring probes, and ``--resolve``
closes a problem resolved by hand (issue #17). A delivery that repeats an earlier one of the same
authority, source and period (a resend, issue #19) is a note under "Repeated deliveries" for
``REPEATS_SHOWN_DAYS``. Only names, sizes, counts, states and UUIDs are shown,
never row data or secrets (issue #14).
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

TIMES = ("created", "updated", "deadline", "started", "last_seen")
REPEATS_SHOWN_DAYS = 31


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="show recent transfers, failures and what waits",
        description="Show recent transfers, failures, what waits (quarantined loads, missing receipts), "
                    "resends and overdue extracts, from the agent's journal.")
    parser.add_argument("--config", metavar="FILE", help="the agent file (default: $SF1630_CONFIG or ./agent.toml)")
    parser.add_argument("--env", help="the environment (default: $SF1630_ENV or [agent].environment)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="rows per section (default 20)")
    parser.add_argument("--check", action="store_true",
                        help="print only what needs attention; exit 1 while anything does, 0 otherwise")
    parser.add_argument("--html", metavar="FILE",
                        help="write the status page (the matrix of municipalities and sources) to FILE, once")
    parser.add_argument("--resolve", type=int, metavar="ID",
                        help="mark problem ID (an unexpected sender, a schema change) as dealt with")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sf1630.config import config_path, load_config

    cfg = load_config(config_path(args.config), args.env)
    if args.resolve is not None:
        return resolve(cfg, args.resolve)
    if args.html:
        return write_html(cfg, args.html)
    report = collect(cfg, max(1, args.limit), time.time())
    if args.check:
        report = {k: report[k] for k in ("generated_at", "journal", "environment", "attention")}
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    elif args.check:
        sys.stdout.write(render_attention(report["attention"]))
    else:
        sys.stdout.write(render(report))
    return 1 if args.check and report["attention"] else 0


def resolve(cfg: Any, problem_id: int) -> int:
    """Close one open problem by its id (``sf1630 status --resolve ID``)."""
    from sf1630.cli.jobargs import resend_by
    from sf1630.errors import Sf1630Error
    from sf1630.journal import open_journal

    if not cfg.journal.exists():
        raise Sf1630Error(f"no journal at {cfg.journal}: there is nothing to resolve")
    with open_journal(cfg.journal) as journal:
        closed = journal.resolve_problem(None, None, time.time(), resend_by(), problem_id=problem_id)
        if not closed:
            known = ", ".join(str(p.id) for p in journal.list_problems()) or "none"
            raise Sf1630Error(f"no open problem {problem_id} in {cfg.journal}; open problems: {known} "
                              "(sf1630 status lists them with their ids)")
    print(f"resolved problem {problem_id}: {closed[0].kind}: {closed[0].message}")
    return 0


def write_html(cfg: Any, target: str) -> int:
    """``sf1630 status --html FILE``: the status page once, for a file to keep or mail (issue #24)."""
    from pathlib import Path

    from sf1630.errors import Sf1630Error
    from sf1630.journal import open_journal
    from sf1630.ops.overview import build_overview
    from sf1630.ops.page import render_page
    from sf1630.plugins import make_plugin_host

    if not cfg.journal.exists():  # never create a journal here: status may run as another user
        raise Sf1630Error(f"no journal at {cfg.journal}: nothing has been sent or received yet")
    with open_journal(cfg.journal) as journal:
        page = render_page(build_overview(cfg, journal, time.time(), make_plugin_host(cfg)), refresh=None,
                           links=False)
    path = Path(target)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise Sf1630Error(f"--html {target}: cannot write the page: {exc.strerror}; choose a folder you can "
                          "write to") from exc
    print(f"wrote the status page to {path}")
    return 0


def collect(cfg: Any, limit: int, now: float) -> dict[str, Any]:
    """The status report as plain data (the JSON form)."""
    from sf1630.journal import describe, exists, open_journal
    from sf1630.ops.attention import attention
    from sf1630.receive.expect import expectations

    report: dict[str, Any] = {"generated_at": _iso(now), "journal": describe(cfg.journal), "environment":
                              cfg.environment.name, "counts": {}, "attention": [], "waiting": [], "failures": [],
                              "resends": [], "repeats": [], "overdue": [], "recent": []}
    if not exists(cfg.journal):  # never create a journal here: status may run as another user
        report["note"] = "no journal yet: nothing has been sent or received"
        return report

    with open_journal(cfg.journal) as journal:
        items = attention(journal, now, receipt_timeout=cfg.receipt_timeout, expected=expectations(cfg))
        report["attention"] = [{**asdict(a), "since": _iso(a.since)} for a in items]
        report["counts"] = {f"{kind}.{state}": n for (kind, state), n in sorted(journal.counts().items())}
        report["waiting"] = [_row(t, _why(t, cfg, now)) for t in journal.list_waiting(limit)]
        failed = [int(a.ref.split(":")[1]) for a in items if a.ref.startswith("transfer:")
                  and a.kind in ("send_failed", "load_quarantined")]
        report["failures"] = [_row(t, t.error or "") for t in (journal.get_id(i) for i in failed[:limit]) if t]
        report["resends"] = [_row(t, _resend(t)) for t in journal.list_resends(limit)]
        report["repeats"] = _repeats(journal, now, limit)
        report["overdue"] = _overdue(cfg, journal, now)
        report["recent"] = [_row(t) for t in journal.transfers(limit=limit)]
        report["requests"] = _requests(journal)
        if journal.shared:  # several processes: which ones, and are they alive (issue #21)
            report["processes"] = _processes(journal, cfg, now)
    return report


def _processes(journal: Any, cfg: Any, now: float) -> list[dict[str, Any]]:
    from sf1630.journal.processes import processes

    rows = []
    for p in processes(journal, since=now - 7 * 86400):
        state = "stopped" if p.stopped_at else ("running" if p.live(cfg.lease_seconds, now) else "not seen since")
        rows.append({"host": p.host, "pid": p.pid, "version": p.version, "started": _iso(p.started_at),
                     "last_seen": _iso(p.seen_at), "state": state})
    return rows


def _requests(journal: Any) -> list[dict[str, Any]]:
    """Operator requests a running service has not finished (issue #21)."""
    from sf1630.agent.inbox import describe_args
    from sf1630.journal.requests import pending

    return [{"id": r.id, "command": f"{r.command} {describe_args(r.args)}", "asked_by": r.asked_by,
             "created": _iso(r.created_at), "state": r.state if r.state == "new" else f"taken by {r.taken_by}"}
            for r in pending(journal)]


def _row(t: Any, why: str | None = None) -> dict[str, Any]:
    row = asdict(t)
    row["created"] = _iso(t.created_at)
    row["updated"] = _iso(t.updated_at)
    if why is not None:
        row["why"] = why
    return row


def _why(t: Any, cfg: Any, now: float) -> str:
    age = now - t.updated_at
    if t.state == "quarantined":
        return f"load failed, kept in quarantine and retried: {t.error or 'see the log'}"
    if t.state == "trigger_uploaded":
        if age > cfg.receipt_timeout:
            return f"receipt missing for {_age(age)} (timeout {_age(cfg.receipt_timeout)})"
        return "waiting for the receipt"
    return f"in progress ({t.state}) for {_age(age)}; resumes on the next run"


def _resend(t: Any) -> str:
    details = t.details or {}
    reason = details.get("resend_reason") or (details.get("resend") or {}).get("reason")
    if not reason:
        return ""
    by = details.get("resend_by") or (details.get("resend") or {}).get("by")
    return f"{reason} (by {by})" if by else str(reason)


def _repeats(journal: Any, now: float, limit: int) -> list[dict[str, Any]]:
    """Loads of the last ``REPEATS_SHOWN_DAYS`` that repeated an earlier delivery, newest first (issue #19)."""
    from sf1630.receive.receiver import repeat_note

    found = [t for t in journal.transfers(kind="receive", since=now - REPEATS_SHOWN_DAYS * 86400, limit=None)
             if (t.details or {}).get("repeats")]
    rows = []
    for t in found[:limit]:
        repeats = t.details["repeats"]
        earlier = sorted({u for r in repeats.values() for u in r.get("earlier", ())})
        rows.append({**_row(t, f"repeats {', '.join(earlier)}: {repeat_note(repeats)}"), "earlier": earlier})
    return rows


def _overdue(cfg: Any, journal: Any, now: float) -> list[dict[str, Any]]:
    """Expected extracts ([[receive.expect]]) whose deadline passed with nothing arrived (issue #14)."""
    from sf1630.receive.expect import expectations, overdue

    out = []
    for e in expectations(cfg):
        due = overdue(journal, e, now)
        if due is not None:
            out.append({"municipality": e.municipality, "source": e.source, "schedule": e.schedule,
                        "deadline": _iso(due.deadline), "overdue_for": _age(now - due.deadline)})
    return out


def render(report: dict[str, Any]) -> str:
    """The report as tables for a terminal."""
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items()) or "no transfers"
    parts = [f"Journal {report['journal']} ({report['environment']}): {counts}\n"]
    if report.get("note"):
        parts.append(report["note"] + "\n")
    parts.append(render_attention(report["attention"]))
    if "processes" in report:
        parts.append(_section("Processes", report["processes"], ("host", "pid", "version", "started", "last_seen",
                                                                 "state")))
    if report.get("requests"):
        parts.append(_section("Requests", report["requests"], ("id", "command", "asked_by", "created", "state")))
    parts.append(_section("Waiting", report["waiting"], ("id", "kind", "state", "municipality", "file_name", "updated",
                                                         "why")))
    parts.append(_section("Failures", report["failures"], ("id", "kind", "state", "municipality", "file_name",
                                                           "updated", "why")))
    parts.append(_section("Resends", report["resends"], ("id", "state", "municipality", "file_name", "created", "why")))
    parts.append(_section("Repeated deliveries", report["repeats"], ("id", "municipality", "source", "file_name",
                                                                     "updated", "why")))
    parts.append(_section("Overdue extracts", report["overdue"], ("municipality", "source", "deadline", "overdue_for")))
    parts.append(_section("Recent transfers", report["recent"], ("id", "kind", "state", "municipality", "source",
                                                                  "file_name", "size", "rows", "updated")))
    return "\n".join(parts)


def render_attention(items: list[dict[str, Any]]) -> str:
    """What needs attention: one line each, and the command that resolves it below."""
    if not items:
        return "Needs attention: nothing\n"
    lines = [f"Needs attention ({len(items)})"]
    for a in items:
        where = " ".join(x for x in (a["municipality"], a["source"], a["file"] or a["account"]) if x)
        lines.append(f"  {a['since'][:16].replace('T', ' ')}  {a['kind']}  {where}: {a['message']}")
        lines.append(f"      resolve: {a['resolve']}")
    return "\n".join(lines) + "\n"


def _section(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return f"{title}: none\n"
    cells = [[_cell(r.get(c), c, 70 if i < len(columns) - 1 else 400) for i, c in enumerate(columns)] for r in rows]
    heads = [c.replace("_", " ").upper() for c in columns]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    lines = [f"{title} ({len(rows)})", "  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def _cell(value: Any, column: str, width: int) -> str:
    text = "" if value is None else str(value)
    if column in TIMES:
        text = text[:16].replace("T", " ")  # minutes are enough on a terminal; --json has the full time
    return text if len(text) <= width else text[: width - 1] + "…"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _age(seconds: float) -> str:
    rest = max(0, int(seconds))
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"
