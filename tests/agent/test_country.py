"""The whole country in a few files (issue #20): conf/country passes `config check`, and a part of it
delivers through the simulator: a source vendor with five sources, three LIS vendors, all from one
CSV list, a few pattern tables and one override file."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import tomli_w

from sf1630.config import check_config, load_config, make_host_for

REPO = Path(__file__).resolve().parents[2]
COUNTRY = REPO / "conf" / "country"
LIS = ("LIS01", "LIS02", "LIS03")
SOURCES = {"dubu": "DUBU_SFTPSIMPEL", "ky": "KY_SFTPSIMPEL", "ksd": "KSD_SFTPSIMPEL", "aula": "AULA_SFTP",
           "kp": "KP_SFTP"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sf1630", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("vendor", ["source-vendor", "lis-vendor"])
def test_the_country_examples_pass_config_check_with_their_plugins(vendor, monkeypatch):
    for source in ("DUBU", "KY", "KSD", "AULA", "KP"):  # as the service's EnvironmentFile sets them
        monkeypatch.setenv(f"SF1630_{source}_DATABASE_URL", f"postgresql://{source.lower()}_reader@db.example/lis")
    monkeypatch.setenv("SF1630_KY_AARHUS_DATABASE_URL", "postgresql://ky_reader@aarhus.example/ky")  # its override
    path = COUNTRY / vendor / "agent.toml"
    assert check_config(path, make_host_for(path)) == []
    cfg = load_config(path)
    assert len(cfg.municipalities) == 98
    if vendor == "source-vendor":  # 98 x 5 sources x 3 LIS, over five shared accounts
        assert cfg.jobs() == 1470 and sorted(cfg.accounts) == ["AULA", "DUBU", "KP", "KSD", "KY"]
        assert cfg.connections_per_host == 5
    else:  # one account per municipality from one pattern table
        assert cfg.jobs() == 98 and len(cfg.accounts) == 98
        assert cfg.accounts["LIS:koebenhavn"].user == "KOEBENHAVN_LIS01_SIMPEL"
        assert cfg.connections_per_host == cfg.concurrency == 8


def test_the_country_platform_has_every_user_and_route():
    from sf1630.simulator.config import load_platform_config

    cfg = load_platform_config(COUNTRY / "platform.toml")
    assert len(cfg.users) == 5 + 98 * 3 and len(cfg.routes) == 98 * 2 * 3
    route = next(r for r in cfg.routes if r.recipient == "AARHUS_LIS02_SIMPEL" and r.sftp_user == "KP_SFTP")
    assert route.sender_authority == route.recipient_authority == "urn:oio:cvr-nr:99990003"


class Country:
    """conf/country copied, cut to a few municipalities, with keys, the simulator on a thread and
    synthetic extracts (the example reads a database) loaded into SQLite (the example: PostgreSQL)."""

    def __init__(self, root: Path, keys: list[str]):
        from sf1630.simulator.config import load_platform_config
        from sf1630.simulator.sandbox import make_key
        from sf1630.simulator.server import Platform

        shutil.copytree(COUNTRY, root)
        self.root = root
        lines = (root / "municipalities.csv").read_text().splitlines(keepends=True)
        header = [n for n, line in enumerate(lines) if line.startswith("key,")][0]
        chosen = [line for line in lines[header + 1:] if line.split(",")[0] in keys]
        (root / "municipalities.csv").write_text("".join(lines[: header + 1] + chosen))
        users = [f"{s}_ed25519" for s in SOURCES] + [f"{k}_{lis.lower()}_ed25519" for k in keys for lis in LIS]
        for name in [*users, "platform_host_ed25519"]:
            make_key(root / "keys" / name)
        edit(root / "platform.toml", lambda d: d["server"].update(port=0, root=str(root / "platform"),
                                                                 host_key="keys/platform_host_ed25519"))
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.platform = Platform(load_platform_config(root / "platform.toml"))
        self.run(self.platform.start())
        self._trust()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _trust(self) -> None:
        import asyncssh

        from sf1630.transport.knownhosts import known_hosts_line

        key = asyncssh.read_private_key(str(self.root / "keys" / "platform_host_ed25519"))
        (self.root / "keys" / "known_hosts.local").write_text(known_hosts_line("127.0.0.1", self.platform.port, key))

    def local(self, doc: dict) -> None:
        doc["agent"].update(environment="local", poll_interval=1)
        doc["environments"]["local"]["port"] = self.platform.port

    def sender(self) -> Path:
        def change(doc: dict) -> None:
            self.local(doc)
            for send in doc["defaults"]["send"]:
                send["options"] = {"adapter": "synthetic", "rows": 3}
        path = self.root / "source-vendor" / "agent.toml"
        edit(path, change)
        return path

    def lis(self, lis: str) -> Path:
        """The LIS vendor's example for LIS01, LIS02 or LIS03 (the same file, another system)."""
        folder = self.root / lis.lower()
        folder.mkdir()
        text = (self.root / "lis-vendor" / "agent.toml").read_text()
        (folder / "agent.toml").write_text(text.replace("LIS01", lis).replace("lis01", lis.lower()))

        def change(doc: dict) -> None:
            self.local(doc)
            doc["defaults"]["receive"]["sinks"] = [{"type": "sqlite", "options": {"path": "lis.sqlite3"}}]
        edit(folder / "agent.toml", change)
        return folder / "agent.toml"

    def stop(self) -> None:
        try:
            self.run(self.platform.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)


def edit(path: Path, change) -> None:
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))


@pytest.fixture
def country(tmp_path):
    c = Country(tmp_path / "country", ["aabenraa", "aarhus", "ikast-brande"])
    try:
        yield c
    finally:
        c.stop()


def test_a_part_of_the_country_delivers_every_extract_to_every_lis(country):
    sender = country.sender()
    shown = cli("config", "show", "--config", str(sender), "--municipality", "aarhus")
    assert shown.returncode == 0, shown.stderr
    assert 'url_env = "SF1630_KY_AARHUS_DATABASE_URL"' in shown.stdout  # its override file still counts

    sent = cli("send", "--config", str(sender))
    assert sent.returncode == 0, sent.stdout[-2000:] + sent.stderr[-3000:]
    country.run(country.platform.wait_idle(30), 40)

    for lis in LIS:
        config = country.lis(lis)
        got = cli("receive", "--config", str(config))
        assert got.returncode == 0, got.stdout[-2000:] + got.stderr[-3000:]
        with sqlite3.connect(config.parent / "lis.sqlite3") as db:
            names = [n for (n,) in db.execute("SELECT file_name FROM deliveries")]
        # each LIS gets all five sources for each of the three municipalities, named by its own code
        assert len(names) == 15 and all(f"_{lis}_" in n for n in names), names
        assert {n.split("_")[0] for n in names} == {"DUBU", "KY", "KSD", "AULA", "KP"}
        assert {n.split("_")[2] for n in names} == {"99990001", "99990003", "99990046"}
