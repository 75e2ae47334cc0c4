"""``sf1630 demo``: the whole SF1630 flow on this machine, checked end to end.

It starts the platform simulator in-process on a free port with fresh keys, sends extracts from all
five sources for two municipalities (DUBU, KY, KSD by simple routing; AULA, KP by route) to one LIS
user per municipality, receives and loads them into SQLite, and checks the database against what
the sources wrote: every file exactly once, every row exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.agent.flow import make_receiver, receive_round, send_round
from sf1630.agent.runtime import Selection, build_runtime
from sf1630.agent.service import run_service
from sf1630.config.load import load_config
from sf1630.journal import open_journal
from sf1630.ops.report import table
from sf1630.simulator.sandbox import FIVE_SOURCES, Sandbox
from sf1630.simulator.server import Platform


@dataclass
class SourceFigures:
    """One line of the summary."""

    source: str
    routing: str
    files: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class DemoResult:
    """What the demo did and found."""

    workdir: Path
    database: Path
    port: int
    figures: dict[str, SourceFigures]
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_demo(workdir: Path, *, rows: int = 1000,
                   then: Callable[[DemoResult, list[Path]], Awaitable[None]] | None = None) -> DemoResult:
    """Run the demo in ``workdir``; the returned result lists any problem found.

    ``then`` is awaited with the result and the two sites' agent files while the platform still runs
    (``sf1630 demo --serve`` keeps the sites running there).
    """
    started = time.monotonic()
    sandbox = Sandbox(workdir)
    platform = Platform(sandbox.platform_config(settle_seconds=0.0))
    await platform.start()
    try:
        sandbox.trust(platform.port)
        database = workdir / "lis" / "lis.sqlite3"
        source_cfg = load_config(sandbox.write_agent("source-vendor", receive=False, rows=rows))
        lis_cfg = load_config(sandbox.write_agent("lis", send=False,
                                                  sinks=[{"type": "sqlite", "options": {"path": str(database)}}]))
        sender_rt = build_runtime(source_cfg, command="demo")
        try:
            sent = await send_round(sender_rt, Selection(), asyncio.Event())
        finally:
            await sender_rt.aclose()
        await platform.wait_idle(30.0)
        lis_rt = build_runtime(lis_cfg, command="demo")
        try:
            await receive_round(lis_rt, make_receiver(lis_rt, asyncio.Event()), Selection())
        finally:
            await lis_rt.aclose()
        result = DemoResult(workdir, database, platform.port, {})
        check(result, sent.transfers, lis_cfg.journal)
        result.seconds = time.monotonic() - started
        if then is not None:
            await then(result, [source_cfg.path, lis_cfg.path])
    finally:
        await platform.stop()
    return result


async def serve_sites(configs: list[Path], stop: asyncio.Event, *, status: Callable[[Any], Callable[[], dict]],
                      listening: Callable[[str, Any], None]) -> None:
    """Run each site as ``sf1630 run --http-port 0`` would, until ``stop``; ``listening(name, server)`` once up."""
    async def one(path: Path) -> None:
        cfg = load_config(path)
        await run_service(cfg, stop, where=(cfg.http_bind, 0), status=status(cfg),
                          listening=lambda server: listening(path.parent.name, server))

    await asyncio.gather(*(one(path) for path in configs))


def check(result: DemoResult, sent: list, lis_journal: Path | str) -> None:
    """Fill in the figures and compare the database with what the sources wrote."""
    routing = {s.source: s.routing for s in FIVE_SOURCES}
    figures = {s.source: SourceFigures(s.source, s.routing) for s in FIVE_SOURCES}
    result.figures = figures
    expected = len(FIVE_SOURCES) * 2
    if len(sent) != expected:
        result.problems.append(f"{len(sent)} sends instead of {expected}")
    loaded_at = _loaded_times(open_journal(lis_journal))
    with sqlite3.connect(result.database) as db:
        for t in sent:
            f = figures.setdefault(t.source, SourceFigures(t.source, routing.get(t.source, "?")))
            if t.state != "delivered":
                result.problems.append(f"{t.file_name}: {t.state} {t.error or ''}".strip())
                continue
            f.files, f.rows, f.bytes = f.files + 1, f.rows + (t.rows or 0), f.bytes + (t.size or 0)
            f.seconds = max(f.seconds, loaded_at.get(t.file_name, 0.0) - getattr(t, "created_at", 0.0))
            result.problems += _check_file(db, t.file_name, t.rows or 0)
        extra = db.execute("SELECT count(*) FROM deliveries").fetchone()[0] - sum(f.files for f in figures.values())
        if extra:
            result.problems.append(f"{extra} more deliveries in the database than files sent")


def _check_file(db: sqlite3.Connection, file_name: str, rows: int) -> list[str]:
    """Problems with one file in the database: not there, there twice, rows missing or doubled."""
    found = db.execute("SELECT file_transfer_uuid, table_name, rows FROM deliveries WHERE file_name = ?",
                       (file_name,)).fetchall()
    if len(found) != 1:
        return [f"{file_name}: loaded {len(found)} times"]
    uuid, table, loaded = found[0]
    count, lines = db.execute(f'SELECT count(*), count(DISTINCT "_line") FROM "{table}" '
                              'WHERE "_file_transfer_uuid" = ?', (uuid,)).fetchone()
    if not loaded == count == lines == rows:
        return [f"{file_name}: the source wrote {rows} rows; the database holds {count} ({lines} distinct)"]
    return []


def _loaded_times(journal) -> dict[str, float]:
    try:
        return {t.file_name: t.updated_at for t in journal.transfers(kind="receive", states=["loaded"], limit=None)}
    finally:
        journal.close()


def summary(result: DemoResult) -> list[str]:
    """The lines the demo prints."""
    rows = [[f.source, f.routing, f.files, f.rows, f.bytes, f"{f.seconds:.2f}"] for f in result.figures.values()]
    total = [sum(f.files for f in result.figures.values()), sum(f.rows for f in result.figures.values()),
             sum(f.bytes for f in result.figures.values())]
    rows.append(["total", "", *total, f"{result.seconds:.2f}"])
    lines = [f"sf1630 demo: platform simulator on 127.0.0.1:{result.port}, work folder {result.workdir}", ""]
    lines += table(["SOURCE", "ROUTING", "FILES", "ROWS", "BYTES", "SECONDS"], rows, right=(2, 3, 4, 5))
    lines.append("")
    if result.ok:
        lines.append(f"OK: all {total[0]} files arrived exactly once with every row ({total[1]} rows).")
    else:
        lines.append("FAILED:")
        lines += [f"  {p}" for p in result.problems]
    lines.append(f"database: {result.database}")
    lines.append(f'  try: sqlite3 {result.database} "SELECT source, file_name, rows FROM deliveries"')
    return lines
