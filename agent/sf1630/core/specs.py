"""What the sender and receiver are asked to do: plain records, built from config by sf1630.agent.runtime.

Sender and receiver see these records and the Source and Sink objects in them, never the config
files or the plugin manager (STYLE.md: a core that knows nothing of plugins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sf1630.api import Municipality, Sink, Source

if TYPE_CHECKING:
    from sf1630.transport.sftp import Credentials, Endpoint


@dataclass(frozen=True)
class Link:
    """One SFTP account the agent uses: its config name, the platform user, where and how to log in."""

    name: str
    user: str
    endpoint: Endpoint
    credentials: Credentials


@dataclass(frozen=True)
class Route:
    """Dynamic-routing values of a send (PROTOCOL.md: a route is six values)."""

    inf_ref: str
    sender_it_system: str
    recipient_authority_cvr: str
    recipient_it_system: str | None = None


@dataclass(frozen=True)
class SendSpec:
    """One configured send: a source's extract for a municipality, over an account, to its recipients."""

    municipality: Municipality
    source: Source
    options: Any  # the source's Options instance
    link: Link
    routing: str  # "simple" | "dynamic"
    recipients: tuple[str, ...] = ()  # SFTP users (simple routing)
    recipient_code: str = "LIS"  # <Recipient> in the data file name
    route: Route | None = None  # dynamic routing
    file_type: bool = True  # rule 5: simple triggers carry <FilType>/<SF>
    schedule: str | None = None  # cron; None: the source's default

    @property
    def label(self) -> str:
        """Short name for logs and the progress line: ``municipality/source``."""
        return f"{self.municipality.key}/{self.source.name}"


@dataclass(frozen=True)
class SinkSpec:
    """A configured sink with its Options instance."""

    sink: Sink
    options: Any
    label: str = ""  # e.g. "sqlite" or "sqlite#2" when a type is used twice


@dataclass(frozen=True)
class ReceiveSpec:
    """One receiving account: a LIS user of a municipality and the sinks its files go to."""

    municipality: Municipality
    link: Link
    sinks: tuple[SinkSpec, ...]
    expected_senders: tuple[str, ...] = field(default=())
    accept_authorities: tuple[str, ...] = field(default=())  # other authority ids loaded as this municipality's
