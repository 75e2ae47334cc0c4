"""Fixtures: OpenSSH sshd on a free loopback port, keys, and a ready endpoint + credentials."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sf1630.testing.sshd import SshdServer, make_key
from sf1630.transport.sftp import Credentials, Endpoint

if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
    pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)", allow_module_level=True)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """User keys, made once: ed25519, rsa, a passphrase-protected one and one never authorized."""
    d = tmp_path_factory.mktemp("keys")
    return {"ed25519": make_key(d / "id_ed25519"), "rsa": make_key(d / "id_rsa", "rsa"),
            "secret": make_key(d / "id_secret", passphrase="pæssfrase 1"),
            "stranger": make_key(d / "id_stranger")}


@pytest.fixture
def make_sshd(tmp_path: Path, keys: dict[str, Path]) -> Iterator[Callable[..., SshdServer]]:
    """Factory: ``make_sshd(**SshdServer kwargs)`` starts a server authorizing the test keys."""
    servers: list[SshdServer] = []

    def make(name: str = "sshd", **kwargs: object) -> SshdServer:
        server = SshdServer(tmp_path / name, **kwargs)
        for kind in ("ed25519", "rsa", "secret"):
            server.authorize(keys[kind])
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@dataclass
class Site:
    """A running server with what a client needs to reach it."""

    server: SshdServer
    endpoint: Endpoint
    credentials: Credentials

    @property
    def home(self) -> Path:
        return self.server.home


@pytest.fixture
def sshd(make_sshd: Callable[..., SshdServer], keys: dict[str, Path], tmp_path: Path) -> Site:
    """One sshd, a known_hosts that trusts it, and ed25519 credentials."""
    server = make_sshd()
    known = server.write_known_hosts(tmp_path / "known_hosts")
    return Site(server, Endpoint(server.host, server.port, known), Credentials(server.user, (keys["ed25519"],)))
