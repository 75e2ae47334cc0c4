"""Part 3: whole deliveries end to end through the simulator, with the agent's own commands.

A vendor's agent (``sf1630 send``) produces and uploads every extract with its trigger and waits
for the receipts; then the LIS side's agent (``sf1630 receive``) downloads every delivery, deletes
it on the server and loads it. Both run as their own processes, the simulator as a third
(``sf1630 platform serve``, settle_seconds = 0). The time split per step comes from the two
journals: the time between a transfer's consecutive states, summed over transfers.

"98 municipalities x 5 sources x 3 LIS" is configured as 294 municipality files (one per
municipality and LIS, each LIS user its own account, PROTOCOL rule 1) with the five sources each.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.common import MiB, Run, run_child
from bench.servers import PlatformProcess
from sf1630.testing.sshd import free_port

SEND_STEPS = {("planned", "extracted"): "extract", ("extracted", "data_uploaded"): "upload data",
              ("data_uploaded", "trigger_uploaded"): "upload trigger",
              ("trigger_uploaded", "delivered"): "platform routes, receipt read"}
RECEIVE_STEPS = {("seen", "downloaded"): "download", ("downloaded", "remote_deleted"): "delete on server",
                 ("remote_deleted", "loaded"): "sink load"}


@dataclass
class DeliveryResult:
    """One whole-delivery run."""

    label: str
    files: int
    mean_size: float
    send: Run
    receive: Run
    delivered: int
    loaded: int
    steps: dict[str, list[float]] = field(default_factory=dict)  # step -> seconds per transfer
    settings: str = ""
    simulator_cpu: float = 0.0

    @property
    def seconds(self) -> float:
        return self.send.wall + self.receive.wall

    def ms(self, cpu: float) -> float:
        """``cpu`` seconds as milliseconds per delivery."""
        return cpu * 1000 / self.files if self.files else math.nan

    @property
    def per_second(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0


def _sandbox(root: Path, municipalities: int, lis: int, sources: tuple[str, ...]):
    from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox

    chosen = tuple(s for s in FIVE_SOURCES if s.source in sources)
    places = tuple(LisMunicipality(f"m{m:03d}-lis{j}", f"Kommune {m:03d} (LIS {j})", f"{30000000 + m * 10 + j}",
                                   f"M{m:03d}_LIS{j}_SIMPEL")
                   for m in range(1, municipalities + 1) for j in range(1, lis + 1))
    return Sandbox(root, sources=chosen, municipalities=places)


def rows_for(size: int, sources: tuple[str, ...]) -> int:
    """Synthetic rows per extract that make the extracts ``size`` bytes on average."""
    import io

    from sf1630.api import Job, Municipality
    from sf1630.options import build_options
    from sf1630.plugins import make_plugin_host

    host, per_row = make_plugin_host(), []
    for name in sources:
        src = host.source(name)
        opts = build_options(src.Options, {"adapter": "synthetic", "rows": 400}, "bench")
        job = Job(Municipality("m", "M", "12345678", "12345678"), src.code, "LIS", "M03", datetime(2024, 4, 2), opts)
        out = io.BytesIO()
        rows = src.write_extract(job, out).rows
        per_row.append(len(out.getvalue()) / rows)
    return max(1, round(size / statistics.mean(per_row)))


class DeliveryBench:
    """Builds the sandbox once per configuration and runs send then receive."""

    def __init__(self, work: Path, log=print, profile: Path | None = None):
        self.work, self.log, self.profile = work, log, profile

    def python(self, label: str, process: str) -> list[str]:
        """The interpreter command for one of the three processes; profiled (bench/profiled.py) with ``--profile``."""
        if self.profile is None:
            return [sys.executable]
        self.profile.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "-" for c in label)
        return [sys.executable, "-m", "bench.profiled", str(self.profile / f"{name}.{process}.prof")]

    def run(self, label: str, *, municipalities: int, lis: int, sources: tuple[str, ...], size: int,
            concurrency: int, sink: str = "sqlite", export: Path | None = None) -> DeliveryResult:
        """One end-to-end run; ``export`` sends that file through the directory adapter instead of
        synthetic rows (big extracts: the synthetic writer makes ~10 MB/s)."""
        root = self.work / "".join(c if c.isalnum() else "-" for c in label)
        shutil.rmtree(root, ignore_errors=True)  # a journal left from an earlier run would skip every send
        box = _sandbox(root, municipalities, lis, sources)
        box.make_keys()
        port = free_port()
        sim = PlatformProcess(box.write_platform(root / "platform.toml", port), port, root / "platform.log",
                              self.python(label, "simulator")).start()
        try:
            box.trust(port)
            vendor, lis_cfg = self._configs(box, sources, size, concurrency, sink, export)
            cpu0 = sim.cpu_seconds()
            self.log(f"  {label}: {len(box.municipalities) * len(sources)} extracts, sending ...")
            send = run_child([*self.python(label, "send"), "-m", "sf1630", "--log-level", "WARNING", "send", "--config", str(vendor)],
                             timeout=1800)
            self.log(f"  {label}: sent in {send.wall:.1f} s (exit {send.code}); receiving ...")
            receive = run_child([*self.python(label, "receive"), "-m", "sf1630", "--log-level", "WARNING", "receive",
                                 "--config", str(lis_cfg)], timeout=1800)
            self.log(f"  {label}: received in {receive.wall:.1f} s (exit {receive.code})")
            cpu = sim.cpu_seconds() - cpu0
        finally:
            sim.stop()
        result = self._result(label, root, send, receive)
        result.simulator_cpu = cpu
        result.settings = (f"concurrency {concurrency}, connections_per_host {max(4, len(sources))} (sender), "
                           f"sink {sink}, extract {'directory adapter' if export else 'synthetic'}")
        return result

    def _configs(self, box, sources, size, concurrency, sink, export) -> tuple[Path, Path]:
        agent = {"concurrency": concurrency}
        rows = 100 if export else rows_for(size, sources)
        vendor = box.write_agent("vendor", receive=False, rows=rows, agent=agent)
        if export:
            _use_export(vendor.parent, export)
        sink_cfg = ({"type": "sqlite", "options": {"path": str(box.root / "lis" / "lis.sqlite3")}} if sink == "sqlite"
                    else {"type": "directory", "options": {"folder": str(box.root / "lis" / "archive")}})
        lis = box.write_agent("lis", send=False, sinks=[sink_cfg], agent=agent)
        return vendor, lis

    def _result(self, label: str, root: Path, send: Run, receive: Run) -> DeliveryResult:
        from sf1630.journal import open_journal

        split: dict[str, list[float]] = defaultdict(list)
        counts, sizes = {}, []
        for name, kind, names in (("vendor", "send", SEND_STEPS), ("lis", "receive", RECEIVE_STEPS)):
            journal = open_journal(root / name / "state" / "journal.sqlite")
            try:
                done = journal.transfers(kind=kind, limit=None)
                counts[kind] = sum(t.state in ("delivered", "loaded") for t in done)
                for t in done:
                    if kind == "send" and t.size:
                        sizes.append(t.size)
                    history = journal.history(t.id)
                    for (a, ta, _), (b, tb, _) in zip(history, history[1:]):
                        if (a, b) in names:
                            split[names[(a, b)]].append(tb - ta)
            finally:
                journal.close()
        files = len(sizes)
        return DeliveryResult(label, files, statistics.mean(sizes) if sizes else 0.0, send, receive,
                              counts.get("send", 0), counts.get("receive", 0), dict(split))


def _use_export(vendor_dir: Path, export: Path) -> None:
    """Point every send of the vendor's municipality files at a folder holding ``export``."""
    import tomllib

    import tomli_w

    old = time.time() - 3600  # the directory adapter skips files changed in the last settle_seconds
    for path in sorted((vendor_dir / "municipalities").glob("*.toml")):
        doc = tomllib.loads(path.read_text())
        for send in doc.get("send", []):
            folder = vendor_dir / "exports" / doc["municipality"]["key"] / send["source"]
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / export.name
            if not target.exists():
                os.link(export, target)
            os.utime(target, (old, old))
            send["options"] = {"adapter": "directory", "folder": str(folder), "pattern": "*.csv",
                               "settle_seconds": 60}
        path.write_text(tomli_w.dumps(doc))


def make_export(path: Path, source: str, size: int) -> Path:
    """A valid extract of ``source`` of about ``size`` bytes (synthetic rows, written once)."""
    if path.exists() and path.stat().st_size >= size * 0.95:
        return path
    from sf1630.api import Job, Municipality
    from sf1630.options import build_options
    from sf1630.plugins import make_plugin_host

    src = make_plugin_host().source(source)
    rows = rows_for(size, (source,))
    opts = build_options(src.Options, {"adapter": "synthetic", "rows": rows}, "bench")
    job = Job(Municipality("m", "M", "12345678", "12345678"), src.code, "LIS", "M03", datetime(2024, 4, 2), opts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        src.write_extract(job, out)
    return path


BIG = 50 * MiB


def small_files(work: Path, count: int = 500, concurrency: int = 16, size: int = 20 * 1024) -> dict:
    """The transport alone: ``count`` files of ``size`` bytes up, then down and removed, over one
    connection to the simulator, ``concurrency`` at a time (a child process; its JSON figures)."""
    import json

    from bench.common import make_file
    from bench.servers import start_simulator, user_key

    folder = work / "small-files"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    key = user_key(folder)
    platform, t = start_simulator(folder, "BENCH_SMALL", key)
    cpu0 = platform.cpu_seconds()
    try:
        src = make_file(folder / "small.csv", size)
        run = run_child([sys.executable, "-m", "bench.client", "session", "small", str(src), "OUT",
                         "--host", t.host, "--port", str(t.port), "--user", t.user, "--key", str(key),
                         "--known-hosts", str(t.known_hosts), "--count", str(count),
                         "--concurrency", str(concurrency)], cwd=Path(__file__).resolve().parent.parent)
        sim_ms = (platform.cpu_seconds() - cpu0) * 1000 / count  # one upload, one download and remove
    finally:
        platform.stop()
    for line in run.out.splitlines():
        if line.startswith("{"):
            return dict(json.loads(line), count=count, concurrency=concurrency, size=size, sim_ms=sim_ms)
    return {"error": (run.err or run.out)[-300:], "count": count, "concurrency": concurrency, "size": size}
