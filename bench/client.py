"""One transfer in a child process, timed around the transfer alone (connection already open).

    python -m bench.client session|session-plain|paramiko up|down|connect \\
        --host H --port P --user U --key K --known-hosts KH [LOCAL REMOTE]

Prints one JSON line: {"seconds": ..., "cipher": ...}. ``session`` is the agent's transport
(``sf1630.transport.sftp``), ``session-plain`` the same without its asyncssh speed-ups, and
``paramiko`` paramiko's SFTPClient.put/get with its defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path


async def _session(a: argparse.Namespace) -> dict:
    from sf1630.transport.sftp import Credentials, Endpoint, Tuning, connect

    tuning = Tuning(speedups=a.client != "session-plain")
    session = await connect(Endpoint(a.host, a.port, Path(a.known_hosts)), Credentials(a.user, (Path(a.key),)),
                            tuning=tuning)
    async with session:
        start = time.perf_counter()
        if a.op == "up":
            await session.upload(Path(a.local), a.remote)
        elif a.op == "down":
            await session.download(a.remote, Path(a.local))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "cipher": session.cipher, "speedups": list(session.speedups)}


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
    ap.add_argument("op", choices=["up", "down", "connect"])
    ap.add_argument("local", nargs="?", default="")
    ap.add_argument("remote", nargs="?", default="")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    a = ap.parse_args()
    result = _paramiko(a) if a.client == "paramiko" else asyncio.run(_session(a))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
