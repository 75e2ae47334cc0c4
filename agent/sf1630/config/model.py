"""The agent's configuration as typed records, built by ``sf1630.config.load``.

Paths are absolute (resolved against the file that named them). No record holds a secret: keys are
paths, passphrases come from an environment variable or a file (issue #13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sf1630.api import Municipality
from sf1630.config.locate import SourceMap
from sf1630.options import Place

if TYPE_CHECKING:  # the transport is imported only when a connection is made
    from sf1630.transport.sftp import Credentials, Endpoint

INF_REF = "KommunalLedelseInformationOverfør_1"  # PROTOCOL.md, SFTPDynamicRoutingInfo


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file, with where it is."""

    file: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass(frozen=True)
class Environment:
    """One platform environment (e.g. test, production): where its SFTP server is."""

    name: str
    host: str
    port: int
    known_hosts: Path


@dataclass(frozen=True)
class Account:
    """A named SFTP user (PROTOCOL.md rule 1). Several keys are tried in order during a rollover."""

    name: str
    user: str
    keys: tuple[Path, ...]
    passphrase_env: str | None
    passphrase_file: Path | None
    environment: str

    def endpoint(self, cfg: AgentConfig) -> Endpoint:
        """The transport endpoint of this account's environment."""
        from sf1630.transport.sftp import Endpoint  # late: asyncssh only once a command connects

        env = cfg.environments[self.environment]
        return Endpoint(host=env.host, port=env.port, known_hosts=env.known_hosts)

    def credentials(self) -> Credentials:
        """The transport credentials: user, key paths and where the passphrase comes from."""
        from sf1630.transport.sftp import Credentials  # late: asyncssh only once a command connects

        return Credentials(
            user=self.user,
            keys=self.keys,
            passphrase_env=self.passphrase_env,
            passphrase_file=self.passphrase_file,
        )


@dataclass(frozen=True)
class RouteValues:
    """The route values of a dynamic-routing trigger (PROTOCOL.md, SFTPDynamicRoutingInfo)."""

    sender_it_system: str
    recipient_it_system: str | None
    recipient_authority_cvr: str
    inf_ref: str = INF_REF


@dataclass
class SendConfig:
    """One ``[[send]]`` table: a source this municipality's extracts come from."""

    source: str
    account: str
    routing: Literal["simple", "dynamic"]
    recipients: list[str]
    recipient_code: str = "LIS"
    schedule: str | None = None
    route: RouteValues | None = None
    file_type: bool = True  # PROTOCOL.md rule 5
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    index: int = 0  # position among the municipality's [[send]] tables
    file: Path | None = None  # the file that wrote it (the agent file when inherited from [defaults])
    base: Path | None = None  # relative paths in options are relative to this folder


@dataclass
class SinkConfig:
    """One ``[[receive.sinks]]`` table."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    index: int = 0
    file: Path | None = None
    base: Path | None = None


@dataclass
class ExpectConfig:
    """One ``[[receive.expect]]`` table: an extract that should arrive on a schedule (issue #14)."""

    source: str
    schedule: str
    grace_seconds: float
    line: int = 0
    index: int = 0


@dataclass
class ReceiveConfig:
    """The ``[receive]`` table of a LIS vendor's municipality file."""

    account: str
    sinks: list[SinkConfig]
    expected_senders: list[str]
    expect: list[ExpectConfig] = field(default_factory=list)
    accept_authorities: list[str] = field(default_factory=list)  # authority ids of others' files loaded here
    line: int = 0
    file: Path | None = None


@dataclass
class MunicipalityConfig:
    """One municipality: its file or CSV line, over the agent file's [defaults]."""

    municipality: Municipality
    path: Path
    sends: list[SendConfig]
    receive: ReceiveConfig | None
    merged: Any = None  # sf1630.config.layers.Merged: every value and where it was written
    values: dict[str, str] = field(default_factory=dict)  # its placeholder values


@dataclass
class AgentConfig:
    """The whole configuration: the agent file plus every municipality file it names."""

    path: Path
    journal: Path | str  # a SQLite file, or a postgresql:// URL (sf1630.journal.is_url)
    spool: Path
    plugin_paths: list[Path]
    disabled_plugins: list[str]
    environment: Environment
    environments: dict[str, Environment]
    accounts: dict[str, Account]
    municipalities: list[MunicipalityConfig]
    concurrency: int = 8
    connections_per_host: int = 4
    receipt_timeout: float = 600
    poll_interval: float = 30
    grace_seconds: float = 3600
    warn_days: int = 20
    key_max_age_days: int = 365
    give_up_seconds: float = 20  # one-shot commands: how long an unreachable platform is tried, per account
    retry_failed_seconds: float = 300  # `run`: first retry of a failed period; doubles up to 6 hours
    unreachable_alert_seconds: float = 900  # `run`: alert once the platform is unreachable this long
    lease_seconds: float = 20.0  # a shared journal: how long a unit stays with a process that stopped renewing
    log_level: str = "INFO"
    log_format: str = "text"
    http_port: int = 0  # `run` serves the status page, /api/status, /healthz, /metrics here; 0: not at all
    http_bind: str = "127.0.0.1"
    alerts: dict[str, Any] = field(default_factory=dict)  # [alerts]: e-mail and webhook (sf1630_plugins.alerts)

    def municipality(self, key: str) -> MunicipalityConfig:
        """The municipality with this key; ``KeyError`` names the known ones."""
        for m in self.municipalities:
            if m.municipality.key == key:
                return m
        known = ", ".join(m.municipality.key for m in self.municipalities) or "none"
        raise KeyError(f"no municipality {key!r} in the config (known: {known})")

    def place(self, where: tuple[str | int, ...]) -> Place:
        """Where table ``where`` of the agent file is, for plugins' messages (``agent.toml:31 [alerts.email]``)."""
        try:
            lines = SourceMap(self.path.read_text(encoding="utf-8")).line
        except OSError:
            return Place(tuple(where), self.path)
        return Place(tuple(where), self.path, lines)

    def jobs(self) -> int:
        """How many jobs the config defines: each [[send]] and each [receive]."""
        return sum(len(m.sends) + (1 if m.receive else 0) for m in self.municipalities)
