"""One transfer in a child process, timed around the transfer alone (connection already open).

    python -m bench.client session|session-plain|paramiko up|down|connect|small \\
        --host H --port P --user U --key K --known-hosts KH [LOCAL REMOTE]

Prints one JSON line: {"seconds": ..., "cipher": ...}; the session adds "cpu", the transfer's CPU
seconds. ``session`` is the agent's transport (``sf1630.transport.sftp``), ``session-plain`` the
same without its asyncssh speed-ups, ``paramiko`` paramiko's SFTPClient.put/get with its defaults.
``small`` moves many small files over the one connection (see ``_small``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path


async def _session(a: argparse.Namespace) -> dict:
    from sf1630.transport.sftp import Credentials, Endpoint, Tuning, connect

    tuning = Tuning(speedups=a.client != "session-plain")
    session = await connect(Endpoint(a.host, a.port, Path(a.known_hosts)), Credentials(a.user, (Path(a.key),)),
                            tuning=tuning)
    async with session:
        if a.op == "small":
            return await _small(session, a)
        start, cpu = time.perf_counter(), _cpu()
        if a.op == "up":
            await session.upload(Path(a.local), a.remote)
        elif a.op == "down":
            await session.download(a.remote, Path(a.local))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "cpu": _cpu() - cpu, "cipher": session.cipher, "speedups": list(session.speedups)}


async def _small(session, a: argparse.Namespace) -> dict:
    """Upload ``--count`` copies of the file LOCAL into the folder REMOTE, then download and remove
    each, ``--concurrency`` at a time over the one connection: files per second each way."""
    src, folder, down = Path(a.local), a.remote.rstrip("/"), Path(a.local).with_name("small-down")
    down.mkdir(exist_ok=True)
    limit = asyncio.Semaphore(a.concurrency)

    async def up(i: int) -> None:
        async with limit:
            await session.upload(src, f"{folder}/small_{i}.csv")

    async def fetch(i: int) -> None:
        async with limit:
            await session.download(f"{folder}/small_{i}.csv", down / f"small_{i}.csv")
            await session.remove(f"{folder}/small_{i}.csv")

    start, cpu = time.perf_counter(), _cpu()
    await asyncio.gather(*(up(i) for i in range(a.count)))
    middle, cpu_middle = time.perf_counter(), _cpu()
    await asyncio.gather(*(fetch(i) for i in range(a.count)))
    end, cpu_end = time.perf_counter(), _cpu()
    return {"seconds": end - start, "up_per_s": a.count / (middle - start), "down_per_s": a.count / (end - middle),
            "cpu_up_ms": (cpu_middle - cpu) / a.count * 1000, "cpu_down_ms": (cpu_end - cpu_middle) / a.count * 1000}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _paramiko(a: argparse.Namespace) -> dict:
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(a.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(a.host, a.port, username=a.user, key_filename=a.key, allow_agent=False, look_for_keys=False)
    try:
        sftp = client.open_sftp()
        start = time.perf_counter()
        if a.op == "up":
            sftp.put(a.local, a.remote)
        elif a.op == "down":
            sftp.get(a.remote, a.local)
        seconds = time.perf_counter() - start
        cipher = client.get_transport().remote_cipher
        sftp.close()
    finally:
        client.close()
    return {"seconds": seconds, "cipher": cipher}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.client", description=__doc__.splitlines()[0])
    ap.add_argument("client", choices=["session", "session-plain", "paramiko"])
    ap.add_argument("op", choices=["up", "down", "connect", "small"])
    ap.add_argument("local", nargs="?", default="")
    ap.add_argument("remote", nargs="?", default="")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--count", type=int, default=500, help="small: number of files")
    ap.add_argument("--concurrency", type=int, default=16, help="small: transfers at once")
    a = ap.parse_args()
    result = _paramiko(a) if a.client == "paramiko" else asyncio.run(_session(a))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
