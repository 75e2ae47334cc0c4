"""Parts 1 and 2: one file up and down over one connection, every client side by side.

Each run is a fresh child process. The transfer time excludes start-up and login where the
client lets us see it: ``sftp`` runs ``!date`` before and after the ``put``/``get`` in its batch,
the Python clients time the call themselves. ``rclone`` can only be timed whole (start-up and
login included); its median time to connect and list a folder is shown beside. CPU seconds and peak RSS are those of the
whole client process (with ``ssh`` under ``sftp``). Clients take turns in a rotating order.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import MB, Run, Stats, make_file, run_child, settle_disk, warm
from bench.servers import _CIPHER, Target

CLIENTS = ("sftp", "sftp-gcm", "rclone", "session", "paramiko")
LABELS = {"sftp": "OpenSSH sftp (defaults)", "sftp-gcm": "OpenSSH sftp -c aes128-gcm", "rclone": "rclone",
          "session": "sf1630 session", "session-plain": "sf1630 session, plain asyncssh",
          "paramiko": "paramiko (defaults)"}


@dataclass
class Row:
    """One client, one size, one direction: the repeated measurements."""

    target: str
    client: str
    size: int
    op: str
    mbps: Stats = field(default_factory=Stats)
    cpu: Stats = field(default_factory=Stats)
    rss: Stats = field(default_factory=Stats)
    start: Stats = field(default_factory=Stats)  # seconds outside the timed transfer (start-up, login)
    ciphers: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _sftp(t: Target, op: str, local: Path, remote: str, cipher: str | None = None) -> tuple[list[str], str, dict]:
    argv = ["sftp", "-q", "-v", "-b", "-", "-P", str(t.port), "-i", str(t.key), "-o", f"UserKnownHostsFile={t.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
    if cipher:
        argv += ["-c", cipher]
    command = f"put {local} {remote}" if op == "up" else f"get {remote} {local}"
    if op == "connect":
        command = "pwd"
    batch = f"!date +%s.%N\n{command}\n!date +%s.%N\n"
    return argv + [f"{t.user}@{t.host}"], batch, dict(os.environ)


def _rclone(t: Target, op: str, local: Path, remote: str) -> tuple[list[str], str | None, dict]:
    env = dict(os.environ, RCLONE_CONFIG=str(t.known_hosts.parent / "rclone.conf"),
               RCLONE_CONFIG_BENCH_TYPE="sftp", RCLONE_CONFIG_BENCH_HOST=t.host, RCLONE_CONFIG_BENCH_PORT=str(t.port),
               RCLONE_CONFIG_BENCH_USER=t.user, RCLONE_CONFIG_BENCH_KEY_FILE=str(t.key),
               RCLONE_CONFIG_BENCH_KNOWN_HOSTS_FILE=str(t.known_hosts),
               # rclone would run md5sum/sha1sum on the server over ssh after each upload
               RCLONE_CONFIG_BENCH_DISABLE_HASHCHECK="true")
    (t.known_hosts.parent / "rclone.conf").touch()
    if op == "connect":
        return ["rclone", "lsf", f"bench:{t.upload_dir or '.'}", "--max-depth", "1"], None, env
    pair = [str(local), f"bench:{remote}"] if op == "up" else [f"bench:{remote}", str(local)]
    return ["rclone", "copyto", *pair], None, env


def _python(client: str) -> Callable[[Target, str, Path, str], tuple[list[str], None, dict]]:
    def argv(t: Target, op: str, local: Path, remote: str):
        args = [sys.executable, "-m", "bench.client", client, op]
        if op != "connect":
            args += [str(local), remote]
        args += ["--host", t.host, "--port", str(t.port), "--user", t.user, "--key", str(t.key),
                 "--known-hosts", str(t.known_hosts)]
        return args, None, dict(os.environ)
    return argv


COMMANDS: dict[str, Callable] = {
    "sftp": _sftp, "sftp-gcm": lambda t, op, l, r: _sftp(t, op, l, r, "aes128-gcm@openssh.com"),
    "rclone": _rclone, "session": _python("session"), "session-plain": _python("session-plain"),
    "paramiko": _python("paramiko")}


def _ciphers(run: Run) -> list[str]:
    """The cipher a client reported: ``ssh -v`` lines, or the Python clients' JSON."""
    found = _CIPHER.findall(run.err)
    for line in run.out.splitlines():
        if line.startswith("{") and '"cipher"' in line:
            found.append(json.loads(line)["cipher"])
    return found


class TransferBench:
    """Runs the client x size x direction matrix against one target."""

    def __init__(self, target: Target, work: Path, clients: tuple[str, ...], sizes: tuple[int, ...],
                 repeats: int, log: Callable[[str], None] = print):
        self.target, self.work, self.clients, self.sizes = target, work, clients, sizes
        self.repeats, self.log = repeats, log
        self.rows: dict[tuple[str, int, str], Row] = {}
        self.connect: dict[str, float] = {}

    def run(self) -> list[Row]:
        """Every measurement, ``repeats`` times; returns the rows."""
        sources = {size: make_file(self.work / "files" / f"src_{size}.bin", size) for size in self.sizes}
        for size, path in sources.items():
            self._place(path, size)
        if "rclone" in self.clients:
            self.connect["rclone"] = self._connect_time("rclone")
        for rep in range(self.repeats):
            order = self.clients[rep % len(self.clients):] + self.clients[:rep % len(self.clients)]
            for size in self.sizes:
                warm(sources[size])
                for client in order:
                    for op in ("up", "down"):
                        self._once(client, size, op, sources[size])
        return list(self.rows.values())

    def _place(self, path: Path, size: int) -> None:
        folder = self.target.home / self.target.download_dir
        folder.mkdir(parents=True, exist_ok=True)
        dst = folder / f"bench_src_{size}.bin"
        if not dst.exists():
            try:
                os.link(path, dst)
            except OSError:
                dst.write_bytes(path.read_bytes())

    def _connect_time(self, client: str) -> float:
        runs = [self._child(client, "connect", Path(), "") for _ in range(3)]
        return sorted(r.wall for r in runs)[1]

    def _child(self, client: str, op: str, local: Path, remote: str) -> Run:
        argv, stdin, env = COMMANDS[client](self.target, op, local, remote)
        return run_child(argv, env=env, stdin=stdin, cwd=Path(__file__).resolve().parent.parent)

    def _once(self, client: str, size: int, op: str, source: Path) -> None:
        row = self.rows.setdefault((client, size, op), Row(self.target.name, client, size, op))
        t = self.target
        name = f"bench_{client}_{size}.bin"
        if op == "up":
            local, remote = source, t.upload_dir + name
            landed = t.home / t.upload_dir / name
        else:
            local, remote = self.work / "down" / name, t.download_dir + f"bench_src_{size}.bin"
            local.parent.mkdir(exist_ok=True)
            landed = local
        settle_disk()
        offset = t.log_size()
        run = self._child(client, op, local, remote)
        ok = run.code == 0 and landed.exists() and landed.stat().st_size == size
        if ok:
            seconds = run.timed
            row.mbps.add(size / MB / seconds)
            row.start.add(run.wall - seconds if run.seconds is not None else self.connect.get(client, 0.0))
            row.cpu.add(run.cpu)
            row.rss.add(run.rss_mb)
            row.ciphers.update(t.ciphers_since(offset) or _ciphers(run))
            self.log(f"  {t.name} {client:13s} {op:4s} {size >> 20:5d} MiB {size / MB / seconds:7.1f} MB/s "
                     f"cpu {run.cpu:5.2f} s rss {run.rss_mb:5.0f} MB")
        else:
            row.errors.append((run.err or run.out or f"exit {run.code}").strip()[-300:])
            self.log(f"  {t.name} {client} {op} {size} FAILED: {row.errors[-1]}")
        landed.unlink(missing_ok=True)
