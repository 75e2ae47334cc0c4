"""A complete SF1630 setup on one machine: platform simulator, keys, and agent config files.

``sf1630 demo`` and the flow tests build their world with this: SFTP users for source systems and
LIS, a key pair per user, the platform's routes for dynamic sources, and agent files (TOML, written
with tomli-w) that send from every source to every municipality's LIS and load into a sink.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import tomli_w

from sf1630.simulator.config import PlatformConfig, RouteConfig, ServerConfig, UserConfig
from sf1630.transport.knownhosts import known_hosts_line

IT_SYSTEMS = uuid.UUID("6f1b2a3c-4d5e-4f60-8a7b-9c0d1e2f3a4b")  # namespace for the demo's IT-system UUIDs


@dataclass(frozen=True)
class SourceUser:
    """A source system and its one SFTP user (rule 1)."""

    source: str  # plugin name, e.g. "ky"
    user: str  # e.g. "KY_SFTPSIMPEL"
    routing: str  # "simple" | "dynamic"

    @property
    def account(self) -> str:
        return self.source.upper()

    @property
    def it_system(self) -> str:
        return str(uuid.uuid5(IT_SYSTEMS, self.source))


@dataclass(frozen=True)
class LisMunicipality:
    """A municipality with its LIS user (one per LIS and municipality, rule 1)."""

    key: str
    name: str
    cvr: str
    lis_user: str

    @property
    def it_system(self) -> str:
        return str(uuid.uuid5(IT_SYSTEMS, f"lis:{self.key}"))


FIVE_SOURCES = (
    SourceUser("dubu", "DUBU_SFTPSIMPEL", "simple"),
    SourceUser("ky", "KY_SFTPSIMPEL", "simple"),
    SourceUser("ksd", "KSD_SFTPSIMPEL", "simple"),
    SourceUser("aula", "AULA_SFTP", "dynamic"),
    SourceUser("kp", "KP_SFTP", "dynamic"),
)
TWO_MUNICIPALITIES = (
    LisMunicipality("ikast-brande", "Ikast-Brande Kommune", "11111111", "IKAST-BRANDE_LIS01_SIMPEL"),
    LisMunicipality("herning", "Herning Kommune", "22222222", "HERNING_LIS01_SIMPEL"),
)


def make_key(path: Path) -> str:
    """Write a fresh ed25519 private key (0600) at ``path`` and its ``.pub``; return the public key line."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.export_private_key("openssh"))
    line = key.export_public_key("openssh").decode().strip()
    path.with_name(path.name + ".pub").write_text(line + "\n")
    return line


@dataclass
class Sandbox:
    """Users, keys, platform and agent configs under ``root``."""

    root: Path
    sources: tuple[SourceUser, ...] = FIVE_SOURCES
    municipalities: tuple[LisMunicipality, ...] = TWO_MUNICIPALITIES
    port: int = 0
    public_keys: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def key_of(self, user: str) -> Path:
        """The private key file of an SFTP user."""
        return self.keys / f"{user}_ed25519"

    def make_keys(self) -> None:
        """A key pair for every user (source systems and LIS)."""
        users = [s.user for s in self.sources] + [m.lis_user for m in self.municipalities]
        for user in users:
            if user not in self.public_keys:
                self.public_keys[user] = make_key(self.key_of(user))

    def platform_config(self, *, settle_seconds: float = 0.0, metadata_root: str = "FileMetadata") -> Any:
        """The simulator's config: every user, and a route per dynamic source and municipality."""
        self.make_keys()
        server = ServerConfig(root=self.root / "platform", host_key=self.keys / "platform_host_ed25519",
                              port=0, settle_seconds=settle_seconds, metadata_root=metadata_root)
        users = [UserConfig(name=u, public_keys=[k]) for u, k in self.public_keys.items()]
        routes = [RouteConfig(sender_authority=f"urn:oio:cvr-nr:{m.cvr}", sender_it_system=s.it_system,
                              recipient_authority=f"urn:oio:cvr-nr:{m.cvr}", recipient_it_system=m.it_system,
                              sftp_user=s.user, recipient=m.lis_user)
                  for s in self.sources if s.routing == "dynamic" for m in self.municipalities]
        return PlatformConfig(server=server, users=users, routes=routes)

    def write_platform(self, path: Path, port: int, **server: Any) -> Path:
        """The platform config as TOML (for ``sf1630 platform serve``), on a fixed ``port``."""
        cfg = self.platform_config(**server)
        doc = {"server": {"root": str(cfg.server.root), "host_key": str(cfg.server.host_key), "port": port,
                          "settle_seconds": cfg.server.settle_seconds, "metadata_root": cfg.server.metadata_root},
               "users": [{"name": u.name, "public_keys": u.public_keys} for u in cfg.users],
               "routes": [{k: v for k, v in vars(r).items() if v is not None} for r in cfg.routes]}
        path.write_text(tomli_w.dumps(doc))
        return path

    def trust(self, port: int) -> Path:
        """Write known_hosts for the platform listening on ``port``; return its path."""
        self.port = port
        key = asyncssh.read_private_key(str(self.keys / "platform_host_ed25519"))
        path = self.keys / "known_hosts"
        path.write_text(known_hosts_line("127.0.0.1", port, key))
        return path

    def write_agent(self, name: str, *, send: bool = True, receive: bool = True, rows: int = 100,
                    sinks: list[dict[str, Any]] | None = None, agent: dict[str, Any] | None = None,
                    sources: tuple[SourceUser, ...] | None = None,
                    municipalities: tuple[LisMunicipality, ...] | None = None) -> Path:
        """Write ``<root>/<name>/agent.toml`` and one file per municipality; return the agent file."""
        folder = self.root / name
        (folder / "municipalities").mkdir(parents=True, exist_ok=True)
        sources = self.sources if sources is None else sources
        chosen = self.municipalities if municipalities is None else municipalities
        # One connection per account: a smaller bound makes accounts take turns (reconnects).
        per_host = max(4, (len(sources) if send else 0) + (len(chosen) if receive else 0))
        settings = {"journal": "state/journal.sqlite", "spool": "state/spool", "environment": "local",
                    "municipalities": "municipalities/*.toml", "poll_interval": 1,
                    "connections_per_host": per_host, **(agent or {})}
        accounts: dict[str, Any] = {}
        if send:
            accounts.update({s.account: {"user": s.user, "keys": [str(self.key_of(s.user))]} for s in sources})
        if receive:
            accounts.update({m.key: {"user": m.lis_user, "keys": [str(self.key_of(m.lis_user))]} for m in chosen})
        doc = {"agent": settings,
               "environments": {"local": {"host": "127.0.0.1", "port": self.port,
                                          "known_hosts": str(self.keys / "known_hosts")}},
               "accounts": accounts}
        (folder / "agent.toml").write_text(tomli_w.dumps(doc))
        for m in chosen:
            text = tomli_w.dumps(self._municipality(m, send and sources, receive, rows, sinks))
            (folder / "municipalities" / f"{m.key}.toml").write_text(text)
        return folder / "agent.toml"

    def _municipality(self, m: LisMunicipality, sources, receive: bool, rows: int,
                      sinks: list[dict[str, Any]] | None) -> dict[str, Any]:
        doc: dict[str, Any] = {"municipality": {"key": m.key, "name": m.name, "cvr": m.cvr, "authority_id": m.cvr}}
        sends = []
        for s in sources or ():
            send: dict[str, Any] = {"source": s.source, "account": s.account, "routing": s.routing}
            if s.routing == "simple":
                send["recipients"] = [m.lis_user]
            else:
                send["route"] = {"sender_it_system": s.it_system, "recipient_it_system": m.it_system,
                                 "recipient_authority": m.cvr}
            send["options"] = {"adapter": "synthetic", "rows": rows}
            sends.append(send)
        if sends:
            doc["send"] = sends
        if receive:
            doc["receive"] = {"account": m.key, "expected_senders": [],
                              "sinks": sinks or [{"type": "sqlite"}]}
        return doc
