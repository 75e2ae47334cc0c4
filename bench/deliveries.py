"""Part 3: whole deliveries end to end through the simulator, with the agent's own commands.

A vendor's agent (``sf1630 send``) produces and uploads every extract with its trigger and waits
for the receipts; then the LIS side's agent (``sf1630 receive``) downloads every delivery, deletes
it on the server and loads it. Both run as their own processes, the simulator as a third
(``sf1630 platform serve``, settle_seconds = 0). The time split per step comes from the two
journals: the time between a transfer's consecutive states, summed over transfers. With more than
one LIS the agents run one after another (each process's CPU measured alone), then once more from
the platform as the send left it, all at the same moment, as the country runs them.

"98 municipalities x 5 sources x 3 LIS" is conf/country as it is (issue #20): one CSV list, a source
vendor's agent file with 15 streams in [defaults], one LIS vendor's agent file with a pattern account
(run three times, for LIS01, LIS02 and LIS03), and the simulator's users and routes from the list.
``bench/country.py`` only cuts it to the run's size and points it at this machine.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
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
    # The same commands run again with nothing left to do: start-up, config, journal, connections.
    idle_send: Run | None = None
    idle_receive: Run | None = None
    # The same deliveries received again with every LIS agent at once, as the country runs them
    # (each LIS is a vendor of its own); None with one LIS.
    receive_at_once: Run | None = None
    loaded_at_once: int = 0
    lis: int = 1  # LIS agents, each run over the same deliveries

    @property
    def seconds(self) -> float:
        return self.send.wall + self.receive.wall

    def ms(self, cpu: float) -> float:
        """``cpu`` seconds as milliseconds per delivery."""
        return cpu * 1000 / self.files if self.files else math.nan

    def beyond(self, run: Run, idle: Run | None) -> float:
        """Milliseconds per delivery of ``run`` beyond what the same command costs with nothing to do."""
        return self.ms(run.cpu - idle.cpu) if idle is not None and not idle.code else math.nan

    @property
    def seconds_at_once(self) -> float:
        """Send then receive with the LIS agents at once (nan when not measured)."""
        return self.send.wall + self.receive_at_once.wall if self.receive_at_once else math.nan

    @property
    def per_second(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0


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
        from bench.country import make_site, trust, write_lis, write_vendor
        from sf1630.config import load_config

        root = self.work / "".join(c if c.isalnum() else "-" for c in label)
        shutil.rmtree(root, ignore_errors=True)  # a journal left from an earlier run would skip every send
        port = free_port()
        site = make_site(root, municipalities, lis, sources, port)
        sim = PlatformProcess(root / "platform.toml", port, root / "platform.log",
                              self.python(label, "simulator")).start()
        try:
            trust(site)
            vendor = write_vendor(site, concurrency, 100 if export else rows_for(size, sources), export)
            cpu0 = sim.cpu_seconds()
            self.log(f"  {label}: {municipalities * lis * len(sources)} extracts, sending ...")
            send_argv = [sys.executable, "-m", "sf1630", "--log-level", "WARNING", "send", "--config", str(vendor)]
            send = run_child([*self.python(label, "send"), *send_argv[1:]], timeout=1800)
            self.log(f"  {label}: sent in {send.wall:.1f} s (exit {send.code}); receiving ...")
            sent = _keep(root / "platform") if len(site.lis) > 1 and self.profile is None else None
            sink_cfg = ({"type": "sqlite", "options": {"path": "lis.sqlite3"}} if sink == "sqlite"
                        else {"type": "directory", "options": {"folder": "archive"}})
            receive_argvs = [[sys.executable, "-m", "sf1630", "--log-level", "WARNING", "receive", "--config",
                              str(write_lis(site, x, concurrency, sink_cfg))] for x in site.lis]
            runs = [run_child([*self.python(label, f"receive-{i}"), *argv[1:]], timeout=1800)
                    for i, argv in enumerate(receive_argvs)]
            receive = _one_after_another(runs)
            self.log(f"  {label}: received in {receive.wall:.1f} s (exit {receive.code})")
            cpu = sim.cpu_seconds() - cpu0
            idle_send = run_child(send_argv, timeout=600)
            idle_receive = _one_after_another([run_child(argv, timeout=600) for argv in receive_argvs])
            self.log(f"  {label}: again with nothing to do: send {idle_send.cpu:.2f} s, receive "
                     f"{idle_receive.cpu:.2f} s of CPU (exit {idle_send.code} / {idle_receive.code})")
            result = self._result(label, root, send, receive, [x.lower() for x in site.lis])
            if sent is not None:
                sim.stop()
                result.receive_at_once, result.loaded_at_once = self._at_once(label, root, sent, sim, receive_argvs)
        finally:
            sim.stop()
        result.simulator_cpu, result.lis = cpu, len(site.lis)
        result.idle_send, result.idle_receive = idle_send, idle_receive
        per_host = load_config(vendor).connections_per_host
        result.settings = (f"concurrency {concurrency}, connections_per_host {per_host} (sender, the default), "
                           f"sink {sink}, extract {'directory adapter' if export else 'synthetic'}, "
                           f"conf/country, {len(site.lis)} LIS agent(s) one after another")
        return result

    def _at_once(self, label: str, root: Path, sent: Path, sim: PlatformProcess, argvs: list[list[str]]) -> tuple[Run, int]:
        """The platform as the send left it, the LIS agents as before their first run, then every LIS
        agent started at the same moment: the country's receive as it happens, one vendor per LIS."""
        shutil.rmtree(root / "platform")
        sent.rename(root / "platform")
        for argv in argvs:
            folder = Path(argv[-1]).parent
            shutil.rmtree(folder / "state", ignore_errors=True)
            (folder / "lis.sqlite3").unlink(missing_ok=True)
            shutil.rmtree(folder / "archive", ignore_errors=True)
        sim.start()
        with ThreadPoolExecutor(len(argvs)) as pool:  # run_child waits for its own child only
            runs = list(pool.map(lambda argv: run_child(argv, timeout=1800), argvs))
        together = Run(max(r.wall for r in runs), sum(r.cpu for r in runs), max(r.rss_mb for r in runs),
                       err="".join(r.err for r in runs), code=next((r.code for r in runs if r.code), 0))
        loaded = sum(_loaded(Path(argv[-1]).parent) for argv in argvs)
        self.log(f"  {label}: received again with the {len(runs)} LIS agents at once in {together.wall:.1f} s "
                 f"(exit {together.code}, {loaded} loaded)")
        return together, loaded

    def _result(self, label: str, root: Path, send: Run, receive: Run, lis: list[str]) -> DeliveryResult:
        from sf1630.journal import open_journal

        split: dict[str, list[float]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        sizes = []
        agents = [("source-vendor", "send", SEND_STEPS), *((x, "receive", RECEIVE_STEPS) for x in lis)]
        for name, kind, names in agents:
            journal = open_journal(root / name / "state" / "journal.sqlite")
            try:
                done = journal.transfers(kind=kind, limit=None)
                counts[kind] += sum(t.state in ("delivered", "loaded") for t in done)
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


def _loaded(agent: Path) -> int:
    """Deliveries a LIS agent's journal has as loaded."""
    from sf1630.journal import open_journal

    journal = open_journal(agent / "state" / "journal.sqlite")
    try:
        return sum(t.state == "loaded" for t in journal.transfers(kind="receive", limit=None))
    finally:
        journal.close()


def _keep(folder: Path) -> Path:
    """A copy of the platform's folder by hard links (the simulator and the agents only create,
    rename and remove files there, never change one in place)."""
    copy = folder.with_name(folder.name + "-sent")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy, symlinks=True, copy_function=os.link)
    return copy


def _one_after_another(runs: list[Run]) -> Run:
    """The LIS agents' runs as one: their times added, the largest memory, the first failure."""
    code = next((r.code for r in runs if r.code), 0)
    return Run(sum(r.wall for r in runs), sum(r.cpu for r in runs), max(r.rss_mb for r in runs),
               out="".join(r.out for r in runs), err="".join(r.err for r in runs), code=code)


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
