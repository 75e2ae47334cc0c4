"""Quick throughput check of the SFTP session against OpenSSH ``sftp`` (run by hand, not a test).

    python tests/transport/measure.py --sizes 256,1024 --runs 3 [--block 261120] [--requests 64]

Starts sshd on a free loopback port, then for each size measures, in the same run,
upload and download with the project's session and with ``sftp -b`` (defaults, and with
``-c aes128-gcm@openssh.com``). Prints MB/s medians (MB = 10**6 bytes). The full benchmark
lives elsewhere (issue #9); this only guards the transport's defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sf1630.testing.sshd import SshdServer, make_key
from sf1630.transport.sftp import Credentials, Endpoint, Tuning, connect


def make_file(path: Path, mib: int) -> Path:
    if not path.exists() or path.stat().st_size != mib << 20:
        block = os.urandom(1 << 20)
        with path.open("wb") as f:
            for _ in range(mib):
                f.write(block)
    return path


def sftp_cmd(server: SshdServer, key: Path, kh: Path, batch: str, cipher: str | None) -> float:
    args = ["sftp", "-q", "-b", "-", "-P", str(server.port), "-i", str(key), "-o", f"UserKnownHostsFile={kh}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
    if cipher:
        args += ["-c", cipher]
    os.sync()  # earlier writes' writeback must not land in this measurement
    start = time.perf_counter()
    subprocess.run(args + [f"{server.user}@{server.host}"], input=batch.encode(), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


async def session_times(server: SshdServer, key: Path, kh: Path, src: Path, dst: Path,
                        tuning: Tuning) -> tuple[float, float]:
    async with await connect(Endpoint(server.host, server.port, kh), Credentials(server.user, (key,)),
                             tuning=tuning) as s:
        os.sync()
        t0 = time.perf_counter()
        await s.upload(src, "m_session.bin")
        up = time.perf_counter() - t0
        os.sync()
        t0 = time.perf_counter()
        await s.download("m_session.bin", dst)
        down = time.perf_counter() - t0
        await s.remove("m_session.bin")
    return up, down


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,1024", help="MiB, comma separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--block", type=int, default=Tuning.block_size)
    ap.add_argument("--requests", type=int, default=Tuning.max_requests, help="reads in flight")
    ap.add_argument("--upload-requests", type=int, default=Tuning.upload_requests, help="writes in flight")
    ap.add_argument("--no-openssh", action="store_true", help="measure only the session")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    a = ap.parse_args()
    work = Path(a.dir or tempfile.mkdtemp(prefix="sf1630-measure-"))
    server = SshdServer(work / "sshd")
    key = make_key(work / "id_ed25519") if not (work / "id_ed25519").exists() else work / "id_ed25519"
    server.authorize(key)
    tuning = Tuning(block_size=a.block, max_requests=a.requests, upload_requests=a.upload_requests)
    with server:
        kh = server.write_known_hosts(work / "known_hosts")
        print(f"block {a.block}, reads {a.requests}, writes {a.upload_requests} in flight, runs {a.runs}")
        print("| size | client | up MB/s | down MB/s |\n|---|---|---|---|")
        for mib in (int(x) for x in a.sizes.split(",")):
            src, dst = make_file(work / f"src_{mib}.bin", mib), work / "dst.bin"
            rows: dict[str, list[tuple[float, float]]] = {"session": []}
            clients = [("sftp", None), ("sftp -c aes128-gcm", "aes128-gcm@openssh.com")]
            for _ in range(a.runs):
                rows["session"].append(asyncio.run(session_times(server, key, kh, src, dst, tuning)))
                for label, cipher in ([] if a.no_openssh else clients):
                    up = sftp_cmd(server, key, kh, f"put {src} m_sftp.bin\n", cipher)
                    down = sftp_cmd(server, key, kh, f"get m_sftp.bin {dst}\nrm m_sftp.bin\n", cipher)
                    rows.setdefault(label, []).append((up, down))
            for label, times in rows.items():
                up = statistics.median(mib * 1.048576 / t[0] for t in times)
                down = statistics.median(mib * 1.048576 / t[1] for t in times)
                print(f"| {mib} MiB | {label} | {up:.0f} | {down:.0f} |", flush=True)
            dst.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
