"""Part 5: peak memory while a 2 GiB file goes up and down, and ``sf1630 --version`` start-up time.

The 2 GiB transfers use the agent's transport (``sf1630.transport.sftp``, what ``sf1630 send`` and
``sf1630 receive`` move data with) in a child process; its peak RSS comes from wait4. The agent
commands' own peak RSS in part 3 is reported beside it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.common import GiB, MB, make_file, run_child, settle_disk
from bench.servers import Target
from bench.transfers import COMMANDS


@dataclass
class MemoryRow:
    """One direction of the big transfer."""

    what: str
    size: int
    rss_mb: float
    mbps: float
    cpu: float
    error: str = ""


def big_transfers(target: Target, work: Path, size: int = 2 * GiB, log=print) -> list[MemoryRow]:
    """Upload then download one file of ``size`` bytes with the session; peak RSS of each."""
    src = make_file(work / "files" / f"src_{size}.bin", size)
    rows = []
    for op in ("up", "down"):
        remote = f"{target.upload_dir}bench_big.bin" if op == "up" else f"{target.download_dir}bench_big_src.bin"
        local = src if op == "up" else work / "down" / "bench_big.bin"
        if op == "down":
            local.parent.mkdir(exist_ok=True)
            placed = target.home / remote
            placed.parent.mkdir(parents=True, exist_ok=True)
            if not placed.exists():
                os.link(src, placed)
        settle_disk()
        argv, stdin, env = COMMANDS["session"](target, op, local, remote)
        run = run_child(argv, env=env, stdin=stdin, cwd=Path(__file__).resolve().parent.parent)
        landed = target.home / remote if op == "up" else local
        ok = run.code == 0 and landed.exists() and landed.stat().st_size == size
        rows.append(MemoryRow("send (upload)" if op == "up" else "receive (download)", size, run.rss_mb,
                              size / MB / run.timed if ok else 0.0, run.cpu,
                              "" if ok else (run.err or run.out)[-300:]))
        log(f"  {size >> 20} MiB {op}: peak RSS {run.rss_mb:.0f} MB, {rows[-1].mbps:.0f} MB/s")
        landed.unlink(missing_ok=True)
    return rows


def version_times(runs: int = 7) -> tuple[float, list[float], str]:
    """Median wall time of ``sf1630 --version`` (the installed console script), the runs, and its path."""
    beside = Path(sys.executable).with_name("sf1630")
    exe = str(beside) if beside.exists() else (shutil.which("sf1630") or "")
    if not exe:
        return float("nan"), [], "sf1630 not installed"
    times = [run_child([exe, "--version"]).wall for _ in range(runs)]
    return statistics.median(times), times, exe
