"""``python -m bench``: run the measurements of issue #9 and write docs/PERFORMANCE.md and docs/img/.

Parts: 1 one file to sshd, 2 the same through the simulator, 3 whole deliveries, 4 sink loads,
5 memory of a 2 GiB transfer and start-up time, 6 the transport's speed-ups one step at a time.
The full run takes about 11 minutes on 2 cores;
``--quick`` runs small sizes once (about 2 minutes).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.common import MiB

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run of about 2 minutes")
    ap.add_argument("--parts", default="1,2,3,4,5,6", help="which parts to run, e.g. 1,4")
    ap.add_argument("--sizes", help="file sizes in MiB for parts 1 and 2 (default 1,64,1024; quick: 1,16)")
    ap.add_argument("--repeats", type=int, help="repeats of each transfer and load (default 3; quick: 1)")
    ap.add_argument("--clients", default="sftp,sftp-gcm,rclone,session,paramiko",
                    help="clients of part 1 (also: session-plain, the session without its asyncssh speed-ups)")
    ap.add_argument("--municipalities", type=int, help="part 3: municipalities (default 98; quick: 10)")
    ap.add_argument("--lis", type=int, help="part 3: LIS per municipality (default 3; quick: 1)")
    ap.add_argument("--big", type=int, help="part 3: number of big extracts (default 98; quick: 4)")
    ap.add_argument("--big-mib", type=int, help="part 3: size of a big extract in MiB (default 50; quick: 8)")
    ap.add_argument("--concurrency", type=int, default=8, help="part 3: the agents' [agent] concurrency")
    ap.add_argument("--rows", type=int, help="part 4: rows of the extract (default 1000000; quick: 100000)")
    ap.add_argument("--memory-mib", type=int, help="part 5: file size in MiB (default 2048; quick: 64)")
    ap.add_argument("--steps-mib", type=int, help="part 6: file size in MiB (default 64; quick: 16)")
    ap.add_argument("--profile", type=Path, help="part 3: run sender, receiver and simulator under cProfile, "
                    "writing LABEL.send.prof, .receive.prof, .simulator.prof here (python -m bench.profiles DIR)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for PERFORMANCE.md and img/")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed at the end)")
    return ap.parse_args(argv)


def settings(a: argparse.Namespace) -> argparse.Namespace:
    """Fill the defaults that depend on --quick."""
    q = a.quick
    a.parts = {int(p) for p in a.parts.split(",") if p.strip()}
    a.sizes = tuple(int(float(x) * MiB) for x in (a.sizes or ("1,16" if q else "1,64,1024")).split(","))
    a.repeats = a.repeats or (1 if q else 3)
    a.clients = tuple(c.strip() for c in a.clients.split(",") if c.strip())
    a.municipalities = a.municipalities or (10 if q else 98)
    a.lis = a.lis or (1 if q else 3)
    a.big = a.big if a.big is not None else (4 if q else 98)
    a.big_mib = a.big_mib or (8 if q else 50)
    a.rows = a.rows or (100_000 if q else 1_000_000)
    a.memory_mib = a.memory_mib or (64 if q else 2048)
    a.steps_mib = a.steps_mib or (16 if q else 64)
    return a


def main(argv: list[str] | None = None) -> int:
    a = settings(parse_args(argv))
    from bench.report import Results, markdown, plots
    from bench.servers import start_simulator, start_sshd, user_key

    work = a.work or Path(tempfile.mkdtemp(prefix="sf1630-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bytecode = common.compiled_modules(work)
    res = Results(" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]), common.machine(),
                  common.loadavg(), repeats=a.repeats)
    res.machine["Python bytecode"] = bytecode
    print(f"work folder {work}; load {res.load_start}", flush=True)
    key = user_key(work)
    try:
        if a.parts & {1, 5, 6}:
            (work / "sshd-run").mkdir(exist_ok=True)
            server, target = start_sshd(work / "sshd-run", key)
            try:
                if 1 in a.parts:
                    from bench.transfers import TransferBench

                    print("part 1: one file over one connection to sshd", flush=True)
                    res.sshd = TransferBench(target, work, a.clients, a.sizes, a.repeats).run()
                if 5 in a.parts:
                    from bench.memory import big_transfers

                    print("part 5: memory of a big transfer", flush=True)
                    res.memory = big_transfers(target, work, a.memory_mib * MiB)
                if 6 in a.parts:
                    from bench.steps import run_steps

                    print("part 6: the transport's speed-ups step by step", flush=True)
                    res.steps = run_steps(target, work, a.steps_mib * MiB, a.repeats)
                    res.steps_size = a.steps_mib * MiB
            finally:
                server.stop()
        if 2 in a.parts:
            from bench.transfers import TransferBench

            print("part 2: the same through the simulator", flush=True)
            (work / "sim-run").mkdir(exist_ok=True)
            platform, target = start_simulator(work / "sim-run", "BENCH_SFTP", key)
            try:
                res.simulator = TransferBench(target, work, ("sftp", "session"), a.sizes, a.repeats).run()
            finally:
                platform.stop()
        if 3 in a.parts:
            res.deliveries = run_deliveries(a, work, res)
        if 4 in a.parts:
            from bench.sinks import SinkBench, make_rows_extract

            print(f"part 4: loading {a.rows:,} rows", flush=True)
            extract = make_rows_extract(work / "files" / f"extract_{a.rows}.csv", a.rows)
            res.sinks = SinkBench(work, extract, a.rows, a.repeats).run()
        if 5 in a.parts:
            from bench.memory import version_times

            res.version = version_times()
    finally:
        res.load_end, res.seconds = common.loadavg(), time.monotonic() - started
        write(res, a.out, markdown, plots)
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"done in {res.seconds / 60:.1f} min; wrote {a.out / 'PERFORMANCE.md'}", flush=True)
    return 0


def run_deliveries(a: argparse.Namespace, work: Path, res) -> list:
    """Part 3: the transport alone with small files, the small extracts, then the big ones."""
    from bench.deliveries import DeliveryBench, make_export, small_files

    print("part 3: whole deliveries through the simulator", flush=True)
    res.small_files = small_files(work, count=100 if a.quick else 500)
    print(f"  transport alone: {res.small_files}", flush=True)
    bench, results = DeliveryBench(work / "deliveries", profile=a.profile), []
    small = a.municipalities * a.lis * 5
    results.append(bench.run(f"{small:,} × 20 KiB", municipalities=a.municipalities, lis=a.lis,
                             sources=("dubu", "ky", "ksd", "aula", "kp"), size=20 * 1024, concurrency=a.concurrency))
    if a.big:
        export = make_export(work / "files" / f"dubu_{a.big_mib}MiB.csv", "dubu", a.big_mib * MiB)
        results.append(bench.run(f"{a.big} × {a.big_mib} MiB", municipalities=a.big, lis=1, sources=("dubu",),
                                 size=a.big_mib * MiB, concurrency=a.concurrency, sink="directory", export=export))
    return results


def write(res, out: Path, markdown, plots) -> None:
    """PERFORMANCE.md and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plots(res, out / "img")
    (out / "PERFORMANCE.md").write_text(markdown(res))


if __name__ == "__main__":
    sys.exit(main())
