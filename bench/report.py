"""Writing docs/PERFORMANCE.md and the PNG plots from the measurements (no measuring here)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.common import MiB
from bench.deliveries import DeliveryResult
from bench.memory import MemoryRow
from bench.sinks import SinkRow
from bench.transfers import LABELS, Row

NARRATIVE = Path(__file__).with_name("narrative.md")


@dataclass
class Results:
    """Everything one run of the benchmark measured."""

    command: str
    machine: dict[str, str]
    load_start: str
    load_end: str = ""
    seconds: float = 0.0
    repeats: int = 3
    sshd: list[Row] = field(default_factory=list)
    simulator: list[Row] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    sinks: list[SinkRow] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    version: tuple[float, list[float], str] | None = None
    steps: list = field(default_factory=list)  # bench.steps.StepRow
    small_files: dict = field(default_factory=dict)
    steps_size: int = 0
    notes: list[str] = field(default_factory=list)


def _size(n: int) -> str:
    return f"{n // (1 << 30)} GiB" if n >= 1 << 30 else f"{n // MiB} MiB" if n >= MiB else f"{n // 1024} KiB"


def _f(x: float, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def ratio(rows: list[Row], client: str, size: int, op: str, base: str = "sftp") -> float:
    """Median MB/s of ``client`` over that of ``base`` for one size and direction (nan if missing)."""
    index = {(r.client, r.size, r.op): r for r in rows}
    a, b = index.get((client, size, op)), index.get((base, size, op))
    if not a or not b or not a.mbps.values or not b.mbps.values:
        return float("nan")
    return a.mbps.median / b.mbps.median


def _transfer_table(rows: list[Row]) -> list[str]:
    out = ["| size | direction | client | MB/s (median) | spread | × sftp | × sftp-gcm | CPU s | peak RSS MB | "
           "start+login s | cipher |", "|---|---|---|--:|---|--:|--:|--:|--:|--:|---|"]
    for r in sorted(rows, key=lambda r: (r.size, r.op != "up", list(LABELS).index(r.client))):
        if r.errors and not r.mbps.values:
            out.append(f"| {_size(r.size)} | {r.op} | {LABELS[r.client]} | failed | {r.errors[0][:80]} | | | | | | |")
            continue
        out.append(f"| {_size(r.size)} | {r.op} | {LABELS[r.client]} | {_f(r.mbps.median)} | {r.mbps.spread} | "
                   f"{_f(ratio(rows, r.client, r.size, r.op), 2)} | {_f(ratio(rows, r.client, r.size, r.op, 'sftp-gcm'), 2)} | "
                   f"{_f(r.cpu.median, 2)} | {_f(r.rss.median)} | {_f(r.start.median, 2)} | "
                   f"{', '.join(sorted(r.ciphers)) or '?'} |")
    return out


def targets(res: Results) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for the issue's targets that this run measured."""
    found: list[tuple[str, str, str]] = []
    big = max((r.size for r in res.sshd), default=0)
    for op, word in (("up", "upload"), ("down", "download")):
        for base, need in (("sftp", 1.0), ("sftp-gcm", 0.9)):
            x = ratio(res.sshd, "session", big, op, base)
            if not math.isnan(x):
                found.append((f"{_size(big)} {word} to sshd, session ≥ {need}× `{base}`", f"{x:.2f}×",
                              "met" if x >= need else "not met"))
    sim_big = max((r.size for r in res.simulator), default=0)
    for op, word in (("up", "upload"), ("down", "download")):
        x = ratio(res.simulator, "session", sim_big, op)
        if not math.isnan(x):
            found.append((f"{_size(sim_big)} {word} through the simulator, session ≥ 1.0× `sftp`", f"{x:.2f}×",
                          "met" if x >= 1.0 else "not met"))
    for d in res.deliveries[:1]:
        found.append((f"{d.files:,} deliveries of {d.mean_size / 1024:.0f} KiB: ≥ 200 per second",
                      f"{d.per_second:.0f}/s", "met" if d.per_second >= 200 else "not met"))
        need = math.ceil(d.files / 200)  # 200 per second, whole seconds: 8 s for the country
        together = d.seconds_at_once  # nan with one LIS
        best = d.seconds if math.isnan(together) else min(d.seconds, together)
        found.append((f"the same, send then receive, in under {need} s", f"{d.seconds:.1f} s" + (
                      "" if math.isnan(together) else f"; {together:.1f} s with the LIS agents at once"),
                      "met" if best < need else "not met"))
        for who, ms, need in (("sender", d.ms(d.send.cpu), 3), ("receiver", d.ms(d.receive.cpu), 4),
                              ("simulator", d.ms(d.simulator_cpu), 3)):
            found.append((f"{who} CPU per delivery ≤ {need} ms", f"{ms:.1f} ms", "met" if ms <= need else "not met"))
    by = {s.loader: s for s in res.sinks}
    for sink, native, goal in GOALS:
        if sink in by and native in by and by[sink].per_second.values and by[native].per_second.values:
            x = by[sink].per_second.median / by[native].per_second.median
            found.append((f"{sink} ≥ {goal}× {native}", f"{x:.2f}×", "met" if x >= goal else "not met"))
    for m in res.memory:
        found.append((f"peak RSS < 150 MB, {m.what} of {_size(m.size)}", f"{m.rss_mb:.0f} MB",
                      "met" if m.rss_mb < 150 and not m.error else "not met"))
    if res.version:
        found.append(("`sf1630 --version` < 0.3 s", f"{res.version[0]:.2f} s", "met" if res.version[0] < 0.3 else "not met"))
    return found


def markdown(res: Results, img: str = "img") -> str:
    """The whole PERFORMANCE.md text."""
    lines = ["# Performance", "",
             "How fast the agent moves files, as measured by the benchmark of issue #9. This file is written by "
             "`python -m bench`; the sections after the measurements explain what was done and what is left.", "",
             "## The run", "",
             f"`{res.command}` on {datetime.now():%Y-%m-%d %H:%M}, {res.seconds / 60:.1f} minutes, "
             f"{res.repeats} repeats of each transfer (median and min–max spread). Load average (1/5/15 min) "
             f"at the start {res.load_start}, at the end {res.load_end}: the machine has 2 cores and other work "
             "ran beside the benchmark, so single runs vary by ±10–25 %; compare clients within one run.", "",
             "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in res.machine.items()] + [""]
    lines += ["Throughput is MB/s (10⁶ bytes per second) of the transfer alone: `sftp` runs `!date` before and "
              "after its `put`/`get`, the Python clients time the call, rclone is timed whole (start-up and "
              "login included). The session's upload includes writing `name.part`, checking its size and "
              "renaming it; its download includes fsync of the file and its folder (PROTOCOL rule 4) — "
              "`sftp` does neither. CPU seconds and peak RSS are those of the whole client process.", ""]
    found = targets(res)
    if found:
        lines += ["## Targets", "", "| target | measured | |", "|---|--:|---|"]
        lines += [f"| {t} | {m} | {v} |" for t, m, v in found] + [""]
    if res.sshd:
        lines += ["## 1. One file over one connection to OpenSSH sshd", "", *_transfer_table(res.sshd), "",
                  f"![MB/s per client, sshd]({img}/transfer_sshd.png)", ""]
    if res.simulator:
        lines += ["## 2. The same through the platform simulator", "",
                  "The simulator (asyncssh) serves SFTP in its own process, uploads to `OUT/`, downloads from `IN/`.",
                  "", *_transfer_table(res.simulator), "", f"![MB/s per client, simulator]({img}/transfer_simulator.png)", ""]
    if res.deliveries:
        lines += _deliveries(res.deliveries, img)
    sf = res.small_files
    if sf and "error" not in sf:
        lines += [f"The transport alone, for comparison: {sf['count']} files of {sf['size'] // 1024} KiB over one "
                  f"connection to the simulator, {sf['concurrency']} at a time: {sf['up_per_s']:.0f} uploads per second "
                  f"({sf['cpu_up_ms']:.2f} ms CPU each, atomic: `.part`, size check, rename), then "
                  f"{sf['down_per_s']:.0f} downloads per second, each removed after (durable: fsync of file and folder; "
                  f"{sf['cpu_down_ms']:.2f} ms CPU each); the simulator spent {sf.get('sim_ms', math.nan):.2f} ms "
                  "of CPU per file moved up and down.", ""]
        if res.deliveries:
            lines += _per_delivery(res.deliveries, sf)
    elif sf:
        lines += [f"The transport alone with small files failed: {sf['error'][:200]}", ""]
    if res.sinks:
        lines += _sinks(res.sinks, img)
    if res.memory or res.version:
        lines += ["## 5. Memory and start-up", ""]
        if res.memory:
            lines += ["| what | file | peak RSS MB | MB/s | CPU s |", "|---|--:|--:|--:|--:|"]
            lines += [f"| {m.what} with the session | {_size(m.size)} | {m.rss_mb:.0f} | {_f(m.mbps)} | {m.cpu:.1f} |"
                      + (f" failed: {m.error[:60]}" if m.error else "") for m in res.memory]
            lines += ["", "The agent commands' own peak RSS is in the table of part 3.", ""]
        if res.version:
            med, runs, exe = res.version
            lines += [f"`sf1630 --version` ({exe}): median {med:.3f} s of {len(runs)} runs "
                      f"({', '.join(f'{t:.3f}' for t in runs)}).", ""]
    if res.steps:
        lines += _steps(res.steps, res.steps_size, img)
    lines += [f"> {n}" for n in res.notes] + ([""] if res.notes else [])
    if NARRATIVE.exists():
        lines += [NARRATIVE.read_text().rstrip(), ""]
    return "\n".join(lines)


def _per_delivery(results: list[DeliveryResult], sf: dict) -> list[str]:
    """CPU per delivery of each process, and how many times the transport alone's cost that is."""
    up, down, sim = sf["cpu_up_ms"], sf["cpu_down_ms"], sf.get("sim_ms", math.nan)
    lines = ["CPU per delivery of each process (its whole run, start-up included, over the deliveries), and as a "
             "multiple of the transport alone: the sender against one upload, the receiver against one download, "
             "the simulator against its cost of one file up and down, both agents against an upload plus a "
             "download. The last column is the gap in one number.", "",
             "| run | sender ms | receiver ms | simulator ms | sender × upload | receiver × download | "
             "simulator × transport | agents × transport |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for d in results:
        s, r, m = d.ms(d.send.cpu), d.ms(d.receive.cpu), d.ms(d.simulator_cpu)
        if 0.5 <= d.mean_size / sf["size"] <= 2:
            ratios = f"{s / up:.1f} | {r / down:.1f} | {m / sim:.1f} | {(s + r) / (up + down):.1f}"
        else:
            ratios = "– | – | – | –"
        lines.append(f"| {d.label} | {s:.2f} | {r:.2f} | {m:.2f} | {ratios} |")
    idle = [d for d in results if d.idle_send is not None and d.idle_receive is not None]
    if idle:
        lines += ["", "Part of that is paid once per run whatever it carries: start-up, configuration, the journal "
                  "and a connection to each account (98 per LIS agent in the country). The same commands run "
                  "again at once, with nothing left to do, measure it; the rest, over the deliveries, is what a "
                  "delivery adds (what a long-running `sf1630 run`, started once and keeping its connections, "
                  "pays per delivery).", "",
                  "| run | nothing to do: CPU s send / receive | sender ms per delivery beyond | "
                  "receiver ms per delivery beyond |", "|---|--:|--:|--:|"]
        for d in idle:
            assert d.idle_send is not None and d.idle_receive is not None
            lines.append(f"| {d.label} | {d.idle_send.cpu:.2f} / {d.idle_receive.cpu:.2f} | "
                         f"{d.beyond(d.send, d.idle_send):.2f} | {d.beyond(d.receive, d.idle_receive):.2f} |")
    return lines + [""]


def _deliveries(results: list[DeliveryResult], img: str) -> list[str]:
    lines = ["## 3. Whole deliveries through the simulator", "",
             "`sf1630 send` (a vendor's agent: extract, data, trigger, receipt) then `sf1630 receive` (a LIS's "
             "agent: metadata, download, delete, sink load), each a process of its own, the simulator a third.", "",
             "| run | extracts | mean size | send s | receive s | deliveries/s | CPU s send / receive / simulator | "
             "peak RSS MB send / receive | settings |", "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for d in results:
        lines.append(f"| {d.label} | {d.loaded:,} of {d.files:,} | {_size(int(d.mean_size))} | {d.send.wall:.1f} | "
                     f"{d.receive.wall:.1f} | {d.per_second:.1f} | {d.send.cpu:.1f} / {d.receive.cpu:.1f} / "
                     f"{d.simulator_cpu:.1f} | {d.send.rss_mb:.0f} / {d.receive.rss_mb:.0f} | {d.settings} |")
    for d in results:
        if d.receive_at_once is not None:
            lines += ["", f"{d.label}, received again from the platform as the send left it, with the {d.lis} LIS "
                      f"agents started at the same moment (in the country each LIS is a vendor of its own): "
                      f"{d.loaded_at_once:,} of {d.files:,} loaded in {d.receive_at_once.wall:.1f} s (exit "
                      f"{d.receive_at_once.code}), CPU "
                      f"{d.receive_at_once.cpu:.1f} s; send then receive {d.seconds_at_once:.1f} s, "
                      f"{d.files / d.seconds_at_once:.1f} deliveries/s."]
    lines += ["", "Time per step from the journals (between a transfer's consecutive states; concurrent transfers "
              "overlap, and a step's time includes waiting for its turn, e.g. for a free slot or the journal):", "",
              "| run | step | transfers | median ms | 90th pct ms | sum s |", "|---|---|--:|--:|--:|--:|"]
    for d in results:
        for step, times in d.steps.items():
            q = sorted(times)
            lines.append(f"| {d.label} | {step} | {len(q)} | {statistics.median(q) * 1000:.1f} | "
                         f"{q[int(0.9 * (len(q) - 1))] * 1000:.1f} | {sum(q):.1f} |")
    return lines + ["", f"![median time per step]({img}/deliveries.png)", ""]


def _steps(rows: list, size: int, img: str) -> list[str]:
    from bench.steps import HELP

    base = rows[0]
    lines = ["## 6. The transport's speed-ups, one step at a time", "",
             f"The session up and down one file of {_size(size)} to sshd, with asyncssh as it comes (`none`), then with "
             "each step of `sf1630.transport.speedups` added to the ones above it (`SF1630_SSH_STEPS`). MB/s and the "
             "CPU seconds of the transfer alone (in the client) are medians; CPU is the steadier figure on a busy "
             "machine.", "",
             "| + step | what it does | up MB/s | down MB/s | CPU s up | CPU s down | CPU vs none, up / down |",
             "|---|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        rel_up = r.cpu_up.median / base.cpu_up.median if base.cpu_up.values and r.cpu_up.values else float("nan")
        rel_down = (r.cpu_down.median / base.cpu_down.median if base.cpu_down.values and r.cpu_down.values
                    else float("nan"))
        lines.append(f"| {r.step} | {HELP.get(r.step, 'asyncssh as it comes, 32 KiB packets offered')} | "
                     f"{_f(r.up.median)} | {_f(r.down.median)} | {_f(r.cpu_up.median, 2)} | {_f(r.cpu_down.median, 2)} | "
                     f"{_f(rel_up, 2)} / {_f(rel_down, 2)} |")
    return lines + ["", f"![CPU seconds per step]({img}/steps.png)", ""]


GOALS = (("sqlite sink", "sqlite3 .import", 0.5), ("postgres sink", "psql \\copy", 0.8),
         ("mariadb sink", "mariadb LOAD DATA", 0.8))  # issue #19


def _sinks(rows: list[SinkRow], img: str) -> list[str]:
    by = {r.loader: r for r in rows}
    native = {sink: loader for sink, loader, _ in GOALS}
    lines = ["## 4. Loading an extract of 1,000,000 rows", "",
             f"One extract of {rows[0].rows:,} rows (AULA columns). The native loaders put text columns as they are; "
             "the sinks type the columns as the source declares them and check every value, add each row's "
             "authority, period, source, line number and FileTransferUUID, record the delivery and make the "
             "`_current` view, in one transaction.", "",
             "| loader | rows/s (median) | spread | × native | CPU s (client) |", "|---|--:|---|--:|--:|"]
    for r in rows:
        base = by.get(native.get(r.loader, ""))
        x = (r.per_second.median / base.per_second.median if base and base.per_second.values and r.per_second.values
             else float("nan"))
        lines.append(f"| {r.loader} | {_f(r.per_second.median)} | {r.per_second.spread} | {_f(x, 2)} | "
                     f"{_f(r.cpu.median, 2)} |" + (f" failed: {r.errors[0][:80]}" if r.errors else ""))
    sink, tool = by.get("mariadb sink"), by.get("mariadb-import")
    if sink and tool and sink.per_second.values and tool.per_second.values:
        lines += ["", f"`mariadb-import --local` (`mysqlimport`) runs the same `LOAD DATA` as the `mariadb` row; "
                      f"the mariadb sink loads at {_f(sink.per_second.median / tool.per_second.median, 2)}× its "
                      "speed (the goal stays against `LOAD DATA`)."]
    return lines + ["", f"![rows per second]({img}/sinks.png)", ""]


def plots(res: Results, folder: Path) -> list[Path]:
    """PNG plots (matplotlib, Agg); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("transfer_sshd", res.sshd), ("transfer_simulator", res.simulator)):
        if rows:
            written.append(_transfer_plot(plt, rows, folder / f"{name}.png", name.split("_")[1]))
    if res.deliveries:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        steps = list(dict.fromkeys(s for d in res.deliveries for s in d.steps))
        width = 0.8 / len(res.deliveries)
        for i, d in enumerate(res.deliveries):
            ax.barh([j + i * width for j in range(len(steps))],
                    [statistics.median(d.steps[s]) * 1000 if d.steps.get(s) else 0 for s in steps],
                    height=width, label=d.label)
        ax.set_yticks([j + width * (len(res.deliveries) - 1) / 2 for j in range(len(steps))], steps)
        ax.set_xscale("log")
        ax.invert_yaxis()  # the first step on top
        ax.set_xlabel("median ms per transfer (log)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "deliveries.png", dpi=100)
        plt.close(fig)
        written.append(folder / "deliveries.png")
    if res.steps:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = [r.step for r in res.steps]
        x = range(len(names))
        ax.plot(x, [r.cpu_up.median if r.cpu_up.values else float("nan") for r in res.steps], "o-", label="upload")
        ax.plot(x, [r.cpu_down.median if r.cpu_down.values else float("nan") for r in res.steps], "s-",
                label="download")
        ax.set_xticks(list(x), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("client CPU s of the transfer (median)")
        ax.set_ylim(bottom=0)
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "steps.png", dpi=100)
        plt.close(fig)
        written.append(folder / "steps.png")
    if res.sinks:
        fig, ax = plt.subplots(figsize=(6, 3))
        names = [r.loader for r in res.sinks]
        ax.barh(names, [r.per_second.median if r.per_second.values else 0 for r in res.sinks], color="#4878a8")
        ax.set_xlabel("rows per second")
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(folder / "sinks.png", dpi=100)
        plt.close(fig)
        written.append(folder / "sinks.png")
    return written


def _transfer_plot(plt, rows: list[Row], path: Path, title: str) -> Path:
    clients = [c for c in LABELS if any(r.client == c for r in rows)]
    groups = sorted({(r.size, r.op) for r in rows}, key=lambda g: (g[0], g[1] != "up"))
    index = {(r.client, r.size, r.op): r for r in rows}
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    width = 0.8 / len(clients)
    for i, c in enumerate(clients):
        meds, lo, hi = [], [], []
        for g in groups:
            r = index.get((c, *g))
            vals = r.mbps.values if r else []
            m = statistics.median(vals) if vals else 0
            meds.append(m)
            lo.append(m - min(vals) if vals else 0)
            hi.append(max(vals) - m if vals else 0)
        ax.bar([j + i * width for j in range(len(groups))], meds, width, yerr=[lo, hi], capsize=2,
               label=LABELS[c])
    ax.set_xticks([j + width * (len(clients) - 1) / 2 for j in range(len(groups))],
                  [f"{_size(s)} {op}" for s, op in groups])
    ax.set_ylabel("MB/s (median, min–max)")
    ax.set_title(f"One file over one connection: {title}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
