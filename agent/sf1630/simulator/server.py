"""The simulator's SSH server and the Platform object that runs it (issues #8, #12).

`Platform(config)` prepares the root folder (every user's IN/ and OUT/, the host key), finishes any
route an earlier run left in the journal, listens, and routes triggers until `stop()`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import asyncssh
from asyncssh.packet import SSHPacket

from sf1630.errors import ConfigError, Sf1630Error
from sf1630.simulator import algorithms
from sf1630.simulator.config import KEY_LINE, PlatformConfig
from sf1630.simulator.delivery import StepHook
from sf1630.simulator.retention import Retention, WarningCallback, announce
from sf1630.simulator.router import Router
from sf1630.simulator.handler import SFTPSession
from sf1630.simulator.sftp import UserFiles

log = logging.getLogger("sf1630.simulator")


class StartError(Sf1630Error):
    """The platform cannot start: port in use, unreadable host key, ..."""


def load_host_key(path: Path, kind: str = "ssh-ed25519") -> asyncssh.SSHKey:
    """Read a host key, or create one of ``kind`` (mode 0600) when the file does not exist."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        options = {"key_size": 3072} if kind == "ssh-rsa" else {}
        key = asyncssh.generate_private_key(kind, comment="sf1630 platform simulator", **options)
        public = path.with_name(path.name + ".pub")  # owner-only too, as everything in the root
        for where, data, flag in ((path, key.export_private_key(), os.O_EXCL),
                                  (public, key.export_public_key(), os.O_TRUNC)):
            with os.fdopen(os.open(where, os.O_WRONLY | os.O_CREAT | flag, 0o600), "wb") as f:
                f.write(data)
        log.info("created host key %s", path)
        return key
    try:
        return asyncssh.read_private_key(str(path))
    except (OSError, asyncssh.KeyImportError, ValueError) as exc:
        raise StartError(f"cannot read the host key {path}: {exc}; fix its permissions, "
                         "or move it away to have a new one created") from None


def load_user_keys(config: PlatformConfig) -> dict[str, set[bytes]]:
    """Each user's authorized public keys (as SSH wire data), from key lines or key files."""
    keys: dict[str, set[bytes]] = {}
    for user in config.users:
        found: set[bytes] = set()
        for n, entry in enumerate(map(str, user.public_keys)):
            where = f"{config.path or 'platform config'}: users {user.name!r} public_keys[{n}]"
            try:
                if KEY_LINE.match(entry):
                    found.add(asyncssh.import_public_key(entry).public_data)
                else:
                    found |= {k.public_data for k in asyncssh.read_public_key_list(entry)}
            except (OSError, asyncssh.KeyImportError, ValueError) as exc:
                raise ConfigError(f"{where}: cannot read the public key {entry[:60]!r}: {exc}") from None
        keys[user.name] = found
    return keys


class _Connection(asyncssh.SSHServerConnection):
    """Refuses user-key signatures outside algorithms.SIGNATURES, e.g. SHA-1 `ssh-rsa` (issue #12);
    asyncssh by itself accepts any signature the key type allows."""

    async def validate_public_key(self, username: str, key_data: bytes, msg: bytes, signature: bytes) -> bool:
        if msg:
            try:
                alg = SSHPacket(signature).get_string().decode("ascii")
            except Exception:
                return False
            if alg not in algorithms.SIGNATURES:
                log.warning("refused a %s signature from user %s (not offered: SHA-1)", alg, username,
                            extra={"user": username})
                if isinstance(self._owner, _Owner):
                    self._owner.refused(f"{alg} signature refused (SHA-1 is not offered)")
                return False
        return await super().validate_public_key(username, key_data, msg, signature)


class _Owner(asyncssh.SSHServer):
    """Per-connection callbacks: key authentication, then SFTP sessions only.

    A connection that began to log in and never did is logged at WARNING with user, address and why,
    so that an operator sees a client with a wrong key (or someone trying names) as sshd shows it."""

    def __init__(self, platform: Platform):
        self._platform = platform
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer, self._logged_in = "an unknown address", False
        self._user: str | None = None
        self._reasons: list[str] = []

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._platform._connections.add(conn)
        peer = conn.get_extra_info("peername")
        if peer:
            self._peer = f"{peer[0]} port {peer[1]}"

    def connection_lost(self, exc: Exception | None) -> None:
        self._platform._connections.discard(self._conn)
        if self._user is not None and not self._logged_in:
            why = "; ".join(self._reasons) or f"the client left before logging in ({exc or 'it closed the connection'})"
            log.warning("failed login of user %s from %s: %s", self._user, self._peer, why, extra={"user": self._user})

    def refused(self, reason: str) -> None:
        """Note why a login attempt failed (once per reason)."""
        if reason not in self._reasons:
            self._reasons.append(reason)

    def begin_auth(self, username: str) -> bool:
        self._user = username
        return True

    def auth_completed(self) -> None:
        self._logged_in = True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        known = self._platform._keys.get(username)
        if known is not None and key.public_data in known:
            return True
        self.refused("no such user" if known is None else
                     f"key {key.get_algorithm()} {key.get_fingerprint()} is not one of the user's public keys")
        return False

    def session_requested(self) -> SFTPSession:
        assert self._conn is not None  # asyncssh asks for sessions only on a made connection
        user = self._conn.get_extra_info("username")
        home = str(self._platform.root / user)
        router = self._platform.started_router()
        # asyncssh hands the factory the server channel; its type names the base class.
        return SFTPSession(lambda chan: UserFiles(chan, home, user, router))  # type: ignore[arg-type]


class Platform:
    """The simulated Serviceplatform: SFTP server, router and retention sweep in one event loop."""

    def __init__(self, config: PlatformConfig, *, on_retention_warning: WarningCallback | None = None,
                 step_hook: StepHook | None = None):
        self.config, self.root = config, config.server.root
        self.on_retention_warning, self._step_hook = on_retention_warning, step_hook
        self.router: Router | None = None
        self.retention: Retention | None = None
        self.host_key: asyncssh.SSHKey | None = None
        self.host_keys: list[asyncssh.SSHKey] = []
        self._keys: dict[str, set[bytes]] = {}
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._background: list[asyncio.Task] = []
        self._sweeping = asyncio.Lock()
        self.port = config.server.port

    def _prepare(self) -> None:
        # Extracts hold CPR numbers: every folder is owner-only whatever the umask, older roots included.
        folders = [self.root, self.root / ".platform"]
        for user in self.config.users:
            folders += [self.root / user.name, self.root / user.name / "IN", self.root / user.name / "OUT"]
        for folder in folders:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        self._keys = load_user_keys(self.config)
        self.host_key = load_host_key(self.config.server.host_key)
        self.host_keys = [self.host_key]
        if self.config.server.host_key_rsa is not None:   # for older clients that pin an RSA host key
            self.host_keys.append(load_host_key(self.config.server.host_key_rsa, "ssh-rsa"))

    async def start(self) -> None:
        """Prepare the root, finish journalled routes, listen. Raises StartError or ConfigError."""
        self._prepare()
        self.router = Router(self.config, step_hook=self._step_hook)
        self.retention = Retention(self.root, [u.name for u in self.config.users], self.config.retention,
                                   self.router.locked)
        recovered = self.router.recover()
        if recovered:
            log.info("finishing %d route(s) left by an earlier run", recovered)
        await self.sweep()
        if self.config.server.lenient_triggers:
            log.warning("lenient_triggers is on: triggers KOMBIT's contract refuses (children in the namespace, "
                        "a default namespace, other namespaces' elements) are accepted here; the platform "
                        "refuses them")
        await self._listen()
        self._background = [asyncio.create_task(self._every(self.config.server.scan_seconds, self._scan, first=0)),
                            asyncio.create_task(self._every(self.config.retention.sweep_seconds, self.sweep))]

    async def _listen(self) -> None:
        server = self.config.server
        options = asyncssh.SSHServerConnectionOptions(
            server_factory=lambda: _Owner(self), server_host_keys=self.host_keys,
            allow_scp=False, agent_forwarding=False, x11_forwarding=False,
            # SFTP only: asyncssh's line editor for interactive shells would wrap every channel
            # write of every answer (5 % of the simulator's time, issue #23).
            line_editor=False,
            **algorithms.listen_options())
        algorithms.restrict_host_key_algorithms(options.server_host_keys)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _Connection(loop, options), server.host, server.port)
        except OSError as exc:
            why = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise StartError(f"cannot listen on {server.host}:{server.port}: {why}; "
                             "choose another [server] port, or stop what uses it") from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("platform listening on %s:%d, root %s, host keys %s", server.host, self.port, self.root,
                 ", ".join(f"{k.get_algorithm()} {k.get_fingerprint()}" for k in self.host_keys))
        for line in self.known_hosts_lines():
            log.info("known_hosts line for clients: %s", line)

    def known_hosts_line(self) -> str:
        """The line a client's known_hosts file needs to trust this server (its ed25519 key)."""
        return self.known_hosts_lines()[0]

    def known_hosts_lines(self) -> list[str]:
        """One known_hosts line per host key: ed25519, then RSA."""
        host = self.config.server.host
        name = host if self.port == 22 else f"[{host}]:{self.port}"
        lines = []
        for key in self.host_keys:
            key_type, key_data = key.export_public_key("openssh").decode().split()[:2]
            lines.append(f"{name} {key_type} {key_data}")
        return lines

    async def _every(self, seconds: float, action, first: float | None = None) -> None:
        await asyncio.sleep(seconds if first is None else first)
        while True:
            try:
                await action()
            except Exception:
                log.exception("periodic %s failed", getattr(action, "__name__", action))
            await asyncio.sleep(seconds)

    def started_router(self) -> Router:
        """The router; the platform is started."""
        if self.router is None:
            raise Sf1630Error("the platform is not started: await start() first")
        return self.router

    async def _scan(self) -> None:
        self.started_router().scan()

    async def sweep(self) -> None:
        """Run one retention sweep now (also done at start and every sweep_seconds)."""
        if self.retention is None:
            raise Sf1630Error("the platform is not started: await start() first")
        async with self._sweeping:
            announce(await asyncio.to_thread(self.retention.sweep), self.on_retention_warning)

    async def wait_idle(self, timeout: float) -> None:
        """Wait until no trigger is settling, being written or in processing (tests, demo)."""
        await self.started_router().wait_idle(timeout)

    def hold(self) -> None:
        """Keep every route that takes a trigger from now on in processing (locked) until release()."""
        self.started_router().release.clear()

    def release(self) -> None:
        """Let held routes go on."""
        self.started_router().release.set()

    async def stop(self) -> None:
        """Stop accepting, close sessions, finish the routes in flight (the rest stays journalled)."""
        if self.router is not None:
            self.router.stop_taking()
        if self._server is not None:
            self._server.close()
        for task in self._background:
            task.cancel()
        for conn in list(self._connections):
            conn.close()
        if self.router is not None:
            await self.router.stop()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        log.info("platform stopped")

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
