"""Part 6: what each transport speed-up adds, one step at a time, against sshd.

The session runs with asyncssh as it comes, then with the steps of
:mod:`sf1630.transport.speedups` switched on one after another (``SF1630_SSH_STEPS``). Each
configuration is a fresh child process; they take turns within each repeat. The CPU seconds of
the transfer alone (measured in the client) are the steadier figure on a busy machine.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import MB, Stats, make_file, run_child, settle_disk, warm
from bench.servers import Target

STEPS = ("no_ignore", "quiet_packets", "coalesce_writes", "allocator", "lean_writes", "lean_reads", "big_packets")
HELP = {
    "no_ignore": "no empty IGNORE packet before each packet",
    "quiet_packets": "packet log lines only when dumping",
    "coalesce_writes": "one socket write per event-loop turn",
    "allocator": "glibc keeps freed heap (no page faults per block)",
    "lean_writes": "SFTP writes: one copy per SSH packet",
    "lean_reads": "received data: by offset, decrypted from a view",
    "big_packets": "256 KiB channel packets offered to the server",
}


@dataclass
class StepRow:
    """The session with the steps up to and including ``step``."""

    step: str
    up: Stats = field(default_factory=Stats)
    down: Stats = field(default_factory=Stats)
    cpu_up: Stats = field(default_factory=Stats)
    cpu_down: Stats = field(default_factory=Stats)


def _transfer_cpu(out: str) -> float:
    """CPU seconds of the transfer alone, as the client reported them."""
    for line in out.splitlines():
        if line.startswith("{"):
            return float(json.loads(line).get("cpu", "nan"))
    return float("nan")


def run_steps(target: Target, work: Path, size: int, repeats: int, log=print) -> list[StepRow]:
    """Cumulative steps, ``repeats`` times each, up and down one file of ``size`` bytes."""
    src = make_file(work / "files" / f"src_{size}.bin", size)
    placed = target.home / target.download_dir / f"bench_steps_{size}.bin"
    placed.parent.mkdir(parents=True, exist_ok=True)
    if not placed.exists():
        os.link(src, placed)
    rows = [StepRow("none")] + [StepRow(s) for s in STEPS]
    for _ in range(repeats):
        warm(src)
        for i, row in enumerate(rows):
            env = dict(os.environ, SF1630_SSH_STEPS=",".join(STEPS[:i]))
            for op in ("up", "down"):
                local = src if op == "up" else work / "down" / "bench_steps.bin"
                local.parent.mkdir(exist_ok=True)
                remote = f"{target.upload_dir}bench_steps.bin" if op == "up" else f"{target.download_dir}{placed.name}"
                settle_disk()
                run = run_child([sys.executable, "-m", "bench.client", "session", op, str(local), remote,
                                 "--host", target.host, "--port", str(target.port), "--user", target.user,
                                 "--key", str(target.key), "--known-hosts", str(target.known_hosts)],
                                env=env, cwd=Path(__file__).resolve().parent.parent)
                landed = target.home / remote if op == "up" else local
                if run.code == 0 and run.seconds:
                    (row.up if op == "up" else row.down).add(size / MB / run.seconds)
                    (row.cpu_up if op == "up" else row.cpu_down).add(_transfer_cpu(run.out))
                else:
                    log(f"  step {row.step} {op} failed: {(run.err or run.out)[-300:]}")
                landed.unlink(missing_ok=True)
            log(f"  + {row.step:16s} up {row.up.values[-1] if row.up.values else 0:6.0f} MB/s "
                f"down {row.down.values[-1] if row.down.values else 0:6.0f} MB/s")
    return rows
