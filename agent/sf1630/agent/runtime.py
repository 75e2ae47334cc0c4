"""Everything a command needs, built from the config: plugins, journal, pool, links and specs.

This is the one place where config, plugins and the core meet; sender and receiver get plain specs
with Source and Sink objects in them (STYLE.md).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.core.health import Health
from sf1630.core.specs import Link, ReceiveSpec, Route, SendSpec, SinkSpec
from sf1630.errors import ConfigError, Sf1630Error
from sf1630.events import Emit, fan_out, plugin_emitter
from sf1630.journal import is_url, open_journal
from sf1630.journal.base import Journal
from sf1630.options import build_options
from sf1630.plugins import make_plugin_host
from sf1630.transport.pool import Pool
from sf1630.transport.privacy import private_dirs

log = logging.getLogger("sf1630.runtime")


@dataclass(frozen=True)
class Selection:
    """Which jobs a command touches: ``--municipality`` and ``--source`` (empty: all)."""

    municipalities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def takes(self, municipality: str, source: str | None = None) -> bool:
        """Whether a job of ``municipality`` (and ``source``) is selected."""
        if self.municipalities and municipality not in self.municipalities:
            return False
        return not (source and self.sources and source not in self.sources)


@dataclass
class Runtime:
    """The agent's working parts for one command run."""

    config: Any  # AgentConfig
    host: Any  # PluginHost
    journal: Journal
    pool: Pool
    emit: Emit
    links: dict[str, Link] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # jobs left out (e.g. a plugin failed), with why
    health: Health | None = None  # the platform's reachability per account
    give_up: float | None = None  # one-shot commands stop trying an unreachable account after this (seconds)
    _built: dict[int, SendSpec] = field(default_factory=dict, repr=False)  # one spec per [[send]]

    def send_specs(self, selection: Selection | None = None) -> list[SendSpec]:
        """The configured sends, selected; a job whose plugin or options are broken is left out and reported."""
        selection = selection or Selection()
        specs = []
        for mc in self.config.municipalities:
            for send in mc.sends:
                if not selection.takes(mc.municipality.key, send.source):
                    continue
                try:
                    specs.append(self._send_spec(mc, send))
                except Sf1630Error as exc:
                    self._problem(f"{send.file or mc.path}:{send.line}: send of {send.source} left out: {exc}")
        return specs

    def _send_spec(self, mc, send) -> SendSpec:
        if id(send) not in self._built:
            self._built[id(send)] = self._make_send_spec(mc, send)
        return self._built[id(send)]

    def _make_send_spec(self, mc, send) -> SendSpec:
        source = self.host.source(send.source)
        origin = f"{send.file or mc.path}:{send.line} [send.options]"
        options = build_options(source.Options, dict(send.options), origin, base=send.base or mc.path.parent)
        route = send.route
        return SendSpec(
            municipality=mc.municipality, source=source, options=options, link=self.links[send.account],
            routing=send.routing, recipients=tuple(send.recipients), recipient_code=send.recipient_code,
            route=Route(route.inf_ref, route.sender_it_system, route.recipient_authority_cvr,
                        route.recipient_it_system) if route else None,
            file_type=send.file_type, schedule=send.schedule)

    def receive_specs(self, selection: Selection | None = None) -> list[ReceiveSpec]:
        """The configured receiving accounts, selected; broken sinks leave their account out, reported."""
        selection = selection or Selection()
        specs = []
        for mc in self.config.municipalities:
            if mc.receive is None or not selection.takes(mc.municipality.key):
                continue
            try:
                specs.append(self._receive_spec(mc, mc.receive))
            except Sf1630Error as exc:
                self._problem(f"{mc.receive.file or mc.path}:{mc.receive.line}: receiving for {mc.municipality.key} left out: {exc}")
        return specs

    def _receive_spec(self, mc, receive) -> ReceiveSpec:
        sinks: list[SinkSpec] = []
        seen: dict[str, int] = {}
        for sc in receive.sinks:
            sink = self.host.sink(sc.type)
            origin = f"{sc.file or mc.path}:{sc.line} [receive.sinks.options]"
            options = build_options(sink.Options, dict(sc.options), origin, base=sc.base or mc.path.parent)
            seen[sc.type] = seen.get(sc.type, 0) + 1
            label = sc.type if seen[sc.type] == 1 else f"{sc.type}#{seen[sc.type]}"
            sinks.append(SinkSpec(sink=sink, options=options, label=label))
        if not sinks:
            raise ConfigError("no sinks configured: add a [[receive.sinks]] table")
        return ReceiveSpec(municipality=mc.municipality, link=self.links[receive.account], sinks=tuple(sinks),
                           expected_senders=tuple(receive.expected_senders),
                           accept_authorities=tuple(receive.accept_authorities))

    def reconfigure(self, config: Any) -> None:
        """Take a reloaded ``config``: its accounts and jobs (journal, pool and plugins stay)."""
        self.config = config
        self.links = make_links(config)
        self._built.clear()
        self.problems.clear()

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            log.error(text)
            self.problems.append(text)

    async def aclose(self) -> None:
        """Let plugins finish (alerts send what is queued), close connections and the journal."""
        try:
            self.host.unconfigure()
            await self.pool.close()
        finally:
            self.journal.close()


def build_runtime(config: Any, *, command: str = "", emitters: Iterable[Emit] = (), host: Any = None,
                  journal: Any = None) -> Runtime:
    """Build the runtime for ``config`` (an AgentConfig): plugin host, journal, pool and a Link per account.

    ``command`` (``run``, ``send``, ``receive``, ``demo``) tells the plugins what starts (``sf1630_configure``).
    """
    host = host or make_plugin_host(config)
    for failure in host.failures():
        log.error("plugin failed to load: %s", failure)
    host.configure(config, command)  # before the journal opens: a plugin that cannot start stops the command
    links = make_links(config)
    emit = fan_out([plugin_emitter(host), *emitters])
    journal = journal or open_journal(config.journal)
    give_up = getattr(config, "give_up_seconds", 20.0)
    # A connection attempt never outlasts the give-up time: a one-shot command stays bounded (issue #17).
    # `run` visits every account each round: their idle connections stay open for the next one.
    keep_idle = len(links) if command == "run" else 0
    pool = Pool(max_per_host=config.connections_per_host, connect_timeout=min(30.0, give_up), keep_idle=keep_idle)
    health = Health(journal, emit, environment=config.environment.name,
                    alert_after=getattr(config, "unreachable_alert_seconds", 900.0))
    return Runtime(config=config, host=host, journal=journal, pool=pool, emit=emit, links=links, health=health,
                   give_up=give_up)


def make_links(config: Any) -> dict[str, Link]:
    """A Link per configured account."""
    return {name: Link(name=name, user=a.user, endpoint=a.endpoint(config), credentials=a.credentials())
            for name, a in config.accounts.items()}


@contextmanager
def work_lock(journal: Path | str, *, service: bool = False) -> Iterator[None]:
    """Hold the journal's work lock: one sending or receiving agent process per journal at a time.

    Two processes resuming the same unfinished transfer could upload its trigger twice; a second
    ``send``, ``receive`` or ``run`` on the same journal is refused instead, with the holder's pid.
    The lock file says whether the holder is a service (``run``): commands then hand it their work.
    """
    if is_url(journal):  # a database journal is shared: `run` processes coordinate through leases
        yield
        return
    fd = _open_lock(journal)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").split() or ["?"]
            raise Sf1630Error(f"another sf1630 process (pid {holder[0]}) is sending or receiving with the journal "
                              f"{journal}; wait for it to finish, or stop it (e.g. the sf1630 service) "
                              "before running this command") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}{' run' if service else ''}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def lock_holder(journal: Path | str) -> tuple[str, str] | None:
    """Who holds a SQLite journal's work lock: (pid, "run" or "") or None when nobody does."""
    path = Path(journal).with_name(Path(journal).name + ".lock")
    if not path.exists():
        return None
    fd = _open_lock(journal)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            words = os.pread(fd, 32, 0).decode(errors="replace").split()
            return (words[0] if words else "?", words[1] if len(words) > 1 else "")
        return None
    finally:
        os.close(fd)


def _open_lock(journal: Path | str) -> int:
    path = Path(journal).with_name(Path(journal).name + ".lock")
    private_dirs(path.parent)  # owner-only, every level (issue #14)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
