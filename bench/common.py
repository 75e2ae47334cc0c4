"""What every part of the benchmark shares: child processes measured, statistics, the machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000  # throughput is in MB/s (10**6 bytes), as OpenSSH and rclone print it
MiB = 1 << 20
GiB = 1 << 30


@dataclass
class Run:
    """One measured run of a child process."""

    wall: float  # the whole process, seconds
    cpu: float  # user + system seconds of the process and its waited-for children
    rss_mb: float  # peak resident set of the largest process, MB
    seconds: float | None = None  # the timed part alone, when the child reports it
    out: str = ""
    err: str = ""
    code: int = 0

    @property
    def timed(self) -> float:
        """The transfer time: what the child timed, else the whole run."""
        return self.seconds if self.seconds is not None else self.wall


TIME = Path("/usr/bin/time")  # GNU time: the child's own peak RSS (see run_child)


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
              timeout: float = 900.0, cwd: Path | None = None) -> Run:
    """Run ``argv`` to its end: wall time, CPU seconds and peak RSS (with its waited-for children,
    e.g. ``ssh`` under ``sftp``).

    The figures come from GNU time, which forks the program from its own small image: the kernel
    counts the image a process had before exec into its peak RSS, so wait4 on a child forked from
    this (large) process would report this process's size.
    """
    report = None
    if TIME.exists():
        fd, name = tempfile.mkstemp(prefix="sf1630-bench-time-")
        os.close(fd)
        report = Path(name)
        argv = [str(TIME), "-q", "-o", name, "-f", "%M %U %S", *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    out_b, err_b = _drain(proc, stdin, timeout)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    rss, cpu = usage.ru_maxrss / 1000, usage.ru_utime + usage.ru_stime
    if report is not None:
        fields = report.read_text().split()
        report.unlink()
        if len(fields) >= 3 and fields[-3].isdigit():  # "Command exited with non-zero status" may come first
            rss, cpu = int(fields[-3]) / 1000, float(fields[-2]) + float(fields[-1])
    run = Run(wall, cpu, rss, out=out_b.decode(errors="replace"), err=err_b.decode(errors="replace"), code=code)
    run.seconds = _reported_seconds(run.out)
    return run


def _drain(proc: subprocess.Popen, stdin: str | None, timeout: float) -> tuple[bytes, bytes]:
    """Feed stdin and read both pipes without reaping the child (wait4 does that)."""
    import threading

    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def pump(name: str, pipe) -> None:
        for block in iter(lambda: pipe.read(65536), b""):
            chunks[name].append(block)

    threads = [threading.Thread(target=pump, args=(n, p), daemon=True)
               for n, p in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    if proc.stdin is not None:
        try:
            proc.stdin.write((stdin or "").encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        proc.kill()
        for t in threads:
            t.join()
    return b"".join(chunks["out"]), b"".join(chunks["err"])


def _reported_seconds(out: str) -> float | None:
    """A child's own timing: a JSON line with "seconds", or two ``!date`` stamps of sftp."""
    stamps = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{") and '"seconds"' in line:
            return float(json.loads(line)["seconds"])
        if line.replace(".", "", 1).isdigit() and "." in line:
            stamps.append(float(line))
    if len(stamps) >= 2:
        return stamps[-1] - stamps[0]
    return None


@dataclass
class Stats:
    """Median and spread of repeated measurements."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def spread(self) -> str:
        """min-max, as text."""
        if not self.values:
            return "-"
        return f"{_num(min(self.values))}–{_num(max(self.values))}"

    @property
    def rel_spread(self) -> float:
        """(max - min) / median."""
        if len(self.values) < 2 or not self.median:
            return 0.0
        return (max(self.values) - min(self.values)) / self.median


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def make_file(path: Path, size: int) -> Path:
    """A file of ``size`` random bytes (kept when it exists with that size)."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, 4 * MiB) or 1)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    return path


def warm(path: Path) -> None:
    """Read a file once so every client finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(8 * MiB):
            pass


def settle_disk() -> None:
    """Flush earlier writes so their writeback does not land in the next measurement."""
    os.sync()


def compiled_modules(work: Path) -> str:
    """Let the measured processes import compiled modules, as an installed agent does.

    pip writes each module's bytecode at install and the executable carries it; with
    ``PYTHONDONTWRITEBYTECODE`` set, every child would compile its modules from source at start
    (7-17 % of a delivery process's CPU in part 3). The bytecode goes to a folder in ``work``
    (``PYTHONPYCACHEPREFIX``), written by compiling the project's packages and one ``sf1630 demo``
    before anything is measured. Returns what the report says about it.
    """
    if not (os.environ.get("PYTHONDONTWRITEBYTECODE") or sys.flags.dont_write_bytecode):
        return "compiled and cached as Python writes it (PYTHONDONTWRITEBYTECODE not set)"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    root = Path(__file__).resolve().parent.parent
    for argv in ([sys.executable, "-m", "compileall", "-q", "-j", "0", str(root / "agent"), str(root / "plugins")],
                 [sys.executable, "-m", "sf1630", "demo", "--workdir", str(work / "warm-up")]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=root)
        if done.returncode != 0:
            raise RuntimeError(f"warming up with {' '.join(argv[1:4])} failed:\n{done.stdout}{done.stderr}")
    return (f"compiled once before the measurements into {work / 'pycache'} (PYTHONPYCACHEPREFIX; this machine "
            "sets PYTHONDONTWRITEBYTECODE, under which each process would compile its modules at start)")


def loadavg() -> str:
    """The 1/5/15-minute load averages."""
    return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())


def version_of(argv: Sequence[str]) -> str:
    """First line of a program's version output, or "not installed"."""
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict[str, str]:
    """What the report says about the machine and the software measured."""
    import asyncssh
    import cryptography

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        import paramiko
        paramiko_version = paramiko.__version__
    except ImportError:
        paramiko_version = "not installed"
    import importlib.util

    loop = "asyncio" + (" (uvloop installed, not used: no gain measured)" if importlib.util.find_spec("uvloop") else "")
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM",
        "OS": f"{platform.system()} {platform.release()} ({_os_name()})",
        "Python": f"{sys.version.split()[0]}, event loop {loop}",
        "asyncssh": asyncssh.__version__,
        "cryptography": cryptography.__version__,
        "paramiko": paramiko_version,
        "OpenSSH": version_of(["ssh", "-V"]),
        "rclone": version_of(["rclone", "version"]),
        "sqlite3": version_of(["sqlite3", "--version"]).split(" ")[0],
        "psql": version_of(["psql", "--version"]),
        "mariadb": version_of(["mariadb", "--version"]),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"
