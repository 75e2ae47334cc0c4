"""What a deploy, rollback or status did on each host, and the table that shows it (issue #10)."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

OK, FAILED, ROLLED_BACK, UNREACHABLE, DRY_RUN = "ok", "failed", "rolled back", "unreachable", "dry run"


@dataclass
class StepRecord:
    """One step on one host: its name, whether it passed, how long it took and a short note."""

    name: str
    ok: bool
    seconds: float
    note: str = ""


@dataclass
class HostReport:
    """The outcome on one host."""

    host: str
    action: str
    before: str | None = None
    after: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0
    result: str = ""
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result in (OK, DRY_RUN)

    def steps_done(self) -> str:
        done = sum(1 for s in self.steps if s.ok)
        return f"{done}/{len(self.steps)}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class StepLog:
    """Runs named steps for one host, timing and recording each and telling ``say`` as it goes."""

    def __init__(self, report: HostReport, say: Callable[[str], None]):
        self.report, self.say = report, say

    def step(self, name: str, action: Callable[[], str | None]) -> str | None:
        """Run ``action``; its return value is the step's note. An exception is recorded and re-raised."""
        started = time.monotonic()
        self.say(f"{self.report.host}: {name} ...")
        try:
            note = action()
        except Exception as exc:
            seconds = time.monotonic() - started
            self.report.steps.append(StepRecord(name, False, round(seconds, 3), str(exc)))
            self.say(f"{self.report.host}: {name} FAILED ({seconds:.1f} s): {exc}")
            raise
        seconds = time.monotonic() - started
        self.report.steps.append(StepRecord(name, True, round(seconds, 3), note or ""))
        self.say(f"{self.report.host}: {name} ok ({seconds:.1f} s){': ' + note if note else ''}")
        return note


def render_table(reports: list[HostReport]) -> str:
    """A plain-text table, one row per host, and the error of each host that did not succeed."""
    header = ("HOST", "BEFORE", "AFTER", "STEPS", "TIME", "RESULT")
    rows = [(r.host, r.before or "-", r.after or "-", r.steps_done(), f"{r.seconds:.1f} s", r.result)
            for r in reports]
    lines = _columns([header, *rows])
    for r in reports:
        if r.error:
            lines.append(f"{r.host}: {r.error}")
    return "\n".join(lines)


def render_status(reports: list[HostReport]) -> str:
    """The table of `sf1630 deploy status`."""
    header = ("HOST", "RELEASE", "SERVICE", "RELEASES", "LAST DEPLOY", "RESULT")
    rows = []
    for r in reports:
        d = r.details
        last = d.get("last") or {}
        when = last.get("time", "-")
        what = f"{last.get('action', '')} {last.get('from') or '-'} -> {last.get('to') or '-'}" if last else ""
        rows.append((r.host, r.after or "-", d.get("service", "-"),  # the folder that runs, not its --version
                     ",".join(d.get("releases", [])) or "-", f"{when} {what}".strip(),
                     last.get("result", "-") if r.result == OK else r.result))
    lines = _columns([header, *rows])
    lines += [f"{r.host}: {r.error}" for r in reports if r.error]
    return "\n".join(lines)


def render_json(reports: list[HostReport]) -> str:
    """Every report as JSON, for scripts and tests."""
    return json.dumps([r.as_dict() for r in reports], indent=2)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
