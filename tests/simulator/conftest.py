"""Fixtures: the simulator running in a thread of its own, keys, and a small SFTP client.

The platform runs in-process on its own event loop thread; clients reach it over real loopback
sockets (asyncssh on that same loop, OpenSSH `sftp`, rclone and paramiko as subprocesses or threads).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import tomli_w

from sf1630.documents.trigger import FILE_TYPE, FileDescriptor, RoutingInfo, Trigger, build_trigger
from sf1630.simulator.config import load_platform_config
from sf1630.simulator.server import Platform

KY, AULA = "KY_SFTPSIMPEL", "AULA_SFTP"
LIS1, LIS2, FLIS = "IKAST-BRANDE_LIS01_SIMPEL", "IKAST-BRANDE_LIS02_SIMPEL", "IKAST-BRANDE_FLIS_DYNAMISK"
CVR = "urn:oio:cvr-nr:29189560"
AULA_IT, FLIS_IT = "d4e3c1a2-0b1c-4d5e-8f90-123456789abc", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
INF_REF = "KommunalLedelseInformationOverfør_1"
DATA = "KY_LIS_11111111_M03_20180402134858.csv"


def make_key(path: Path, kind: str = "ed25519") -> Path:
    """An OpenSSH key pair at path and path.pub."""
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test", "-f", str(path)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048", "-m", "PEM"]   # PEM: readable by paramiko 2.x as well
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One key per user: RSA for AULA (the older-client case), ed25519 for the others."""
    d = tmp_path_factory.mktemp("keys")
    kinds = {KY: "ed25519", AULA: "rsa", LIS1: "ed25519", LIS2: "ed25519", FLIS: "rsa"}
    return {user: make_key(d / user, kind) for user, kind in kinds.items()}


def trigger_bytes(data_name: str = DATA, size: int = 0, sender: str = KY,
                  recipients: tuple[str, ...] = (LIS1,), routing: RoutingInfo | None = None, file_type: tuple = FILE_TYPE, file_id: str | None = None) -> bytes:
    """A trigger built by the project's own writer."""
    descriptor = FileDescriptor(data_name, size, sender, recipients, file_id)
    return build_trigger(Trigger(descriptor, routing, () if routing else file_type))


def routing_info(recipient_it: str | None = FLIS_IT, sender_it: str = AULA_IT) -> RoutingInfo:
    return RoutingInfo(INF_REF, sender_it, CVR, "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                       "2024-04-02T13:48:58.000", CVR, recipient_it)


class Running:
    """A Platform on an event loop thread; `run(coro)` executes on that loop and returns the result."""

    def __init__(self, config_path: Path, **platform_kwargs: Any):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.config = load_platform_config(config_path)
        self.root = self.config.server.root
        self.platform = Platform(self.config, **platform_kwargs)
        self.run(self.platform.start())
        self.port = self.platform.port
        self.known_hosts = config_path.parent / "known_hosts"
        self.known_hosts.write_text("\n".join(self.platform.known_hosts_lines()) + "\n")

    def run(self, awaitable: Any, timeout: float = 30) -> Any:
        if not self.loop.is_running():
            raise RuntimeError("the platform's loop is not running (stopped)")

        async def wait() -> Any:
            return await awaitable
        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result(timeout)

    def call(self, fn: Callable[[], Any]) -> Any:
        async def wrapped() -> Any:
            return fn()
        return self.run(wrapped())

    def wait_idle(self, timeout: float = 10) -> None:
        self.run(self.platform.wait_idle(timeout), timeout + 5)

    def locked(self, user: str, name: str) -> bool:
        return self.call(lambda: self.platform.router.locked(user, name))

    def stop(self) -> None:
        if self.loop.is_running():
            self.run(self.platform.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def inbox(self, user: str) -> Path:
        return self.root / user / "IN"

    def outbox(self, user: str) -> Path:
        return self.root / user / "OUT"


def write_config(folder: Path, keys: dict[str, Path], server: dict | None = None,
                 routes: list[dict] | None = None, retention: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "server": {"root": "root", "port": 0, "settle_seconds": 0.0, "scan_seconds": 60.0, **(server or {})},
        "users": [{"name": user, "public_keys": [str(key) + ".pub"]} for user, key in keys.items()],
        "routes": routes if routes is not None else [
            {"infref": INF_REF, "sender_authority": CVR, "sender_it_system": AULA_IT, "recipient_authority": CVR,
             "recipient_it_system": FLIS_IT, "sftp_user": AULA, "recipient": FLIS}],
    }
    if retention:
        doc["retention"] = retention
    path = folder / "platform.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def rsa_host_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RSA host key for every platform of the run (making one per platform is slow)."""
    path = tmp_path_factory.mktemp("host") / "host_key_rsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path


@pytest.fixture
def make_platform(tmp_path: Path, keys: dict[str, Path], rsa_host_key: Path) -> Iterator[Callable[..., Running]]:
    """Factory: make_platform(server={...}, routes=[...], **Platform kwargs) -> a running platform."""
    running: list[Running] = []

    def make(name: str = "platform", server: dict | None = None, routes: list[dict] | None = None,
             retention: dict | None = None, **kwargs: Any) -> Running:
        server = {"host_key_rsa": str(rsa_host_key), **(server or {})}
        path = write_config(tmp_path / name, keys, server, routes, retention)
        r = Running(path, **kwargs)
        running.append(r)
        return r

    yield make
    for r in running:
        r.stop()


@pytest.fixture
def platform(make_platform: Callable[..., Running]) -> Running:
    """A platform with settle_seconds = 0 and the default users and route."""
    return make_platform()


class Client:
    """A small synchronous SFTP client (asyncssh, on the platform's loop) for one user."""

    def __init__(self, running: Running, user: str, key: Path, **options: Any):
        self.running = running

        async def connect() -> tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]:
            conn = await asyncssh.connect("127.0.0.1", running.port, username=user, client_keys=[str(key)],
                                          known_hosts=str(running.known_hosts), **options)
            return conn, await conn.start_sftp_client()

        self.conn, self.sftp = running.run(connect())

    def put(self, path: str, data: bytes) -> None:
        async def put() -> None:
            async with self.sftp.open(path, "wb") as f:
                await f.write(data)
        self.running.run(put())

    def get(self, path: str) -> bytes:
        async def get() -> bytes:
            async with self.sftp.open(path, "rb") as f:
                return await f.read()
        return self.running.run(get())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sftp, name)     # stat, remove, rename, posix_rename, listdir, ...
        return lambda *args, **kwargs: self.running.run(method(*args, **kwargs))

    def close(self) -> None:
        if not self.running.loop.is_running():
            return
        self.conn.close()
        self.running.run(self.conn.wait_closed())


@pytest.fixture
def connect(keys: dict[str, Path]) -> Iterator[Callable[..., Client]]:
    """Factory: connect(running, user, **asyncssh options) -> Client, closed at the end."""
    clients: list[Client] = []

    def make(running: Running, user: str = KY, **options: Any) -> Client:
        client = Client(running, user, keys[user], **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.close()
        except Exception:
            pass


def send(client: Client, data: bytes, name: str = DATA, trigger: bytes | None = None, **trigger_kwargs: Any) -> None:
    """Upload a data file and its trigger as an ordinary client would: data first, then the trigger."""
    client.put(f"OUT/{name}", data)
    client.put(f"OUT/{name}.trigger", trigger if trigger is not None else
               trigger_bytes(name, len(data), **trigger_kwargs))


def needs(program: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} is not installed")
