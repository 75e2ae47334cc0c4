"""Opening an SSH connection: user keys, strict host-key checking, fast algorithms.

Keys are offered one at a time in the configured order so the agent can log which one the
server took. Host keys must be in the known_hosts file; anything else is refused with the
key's fingerprint and the command that trusts it (issue #8).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from sf1630.errors import ConfigError, ConnectFailed, HostKeyError, RemoteRefused, TransportError
from sf1630.transport import knownhosts, speedups
from sf1630.transport.failures import translate

log = logging.getLogger(__name__)

#: aes128-gcm is the fastest with AES-NI, chacha20 next; then whatever else both sides have.
CIPHERS = ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
           "aes128-ctr", "aes192-ctr", "aes256-ctr")

#: Largest channel packet the server may send us. OpenSSH then packs up to 256 KiB into one
#: packet when its pipe from sftp-server has that much: fewer packets to decrypt (issue #9,
#: downloads +10 % on loopback). Uploads stay at the server's own limit (32 KiB for OpenSSH).
MAX_PACKET = 256 * 1024


@dataclass
class Secret:
    """Where a key passphrase comes from (an environment variable or a file)."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str | None:
        """The passphrase, or None when none is configured."""
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"key passphrase: environment variable {self.env} is not set; "
                                  f"set it or remove passphrase_env from the account")
            return value
        if self.file:
            try:
                return self.file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"key passphrase file {self.file}: {exc.strerror}; "
                                  "check passphrase_file in the account") from exc
        return None


def load_keys(paths: tuple[Path, ...], secret: Secret) -> list[tuple[Path, asyncssh.SSHKey]]:
    """Read every private key, in order; a key that cannot be read is a config error."""
    if not paths:
        raise ConfigError("no SSH key configured for the account; set keys = [\"path/to/id_ed25519\"]")
    passphrase = secret.read()
    keys = []
    for path in paths:
        try:
            _check_private(path)
            keys.append((path, asyncssh.read_private_key(path, passphrase)))
        except OSError as exc:
            raise ConfigError(f"SSH key {path}: {exc.strerror}; check keys in the account") from exc
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            hint = "check the passphrase (passphrase_env / passphrase_file)" if passphrase or "passphrase" \
                in str(exc).lower() else "is it an OpenSSH private key?"
            raise ConfigError(f"SSH key {path}: cannot be read ({exc}); {hint}") from exc
    return keys


def _check_private(path: Path) -> None:
    """Refuse a key of ours that others may read, as OpenSSH does (issue #5): it may have leaked."""
    st = os.stat(path)
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        raise ConfigError(f"SSH key {path} can be read by others (mode {st.st_mode & 0o777:04o}); run "
                          f"chmod 600 {path}, and replace the key if others may have copied it")


class Client(asyncssh.SSHClient):
    """Offers the keys in order, remembers which one was used and the key the server showed."""

    def __init__(self, keys: list[tuple[Path, asyncssh.SSHKey]], *, fast: bool = False):
        self._keys = list(keys)
        self._fast = fast
        self.key_used: Path | None = None
        self.server_key: asyncssh.SSHKey | None = None
        self.direct_auth = False  # logged in with one signed request (speedups.direct_auth)
        self.lost = asyncio.Event()

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.direct_auth = self._fast and speedups.direct_auth(conn)

    def public_key_auth_requested(self) -> asyncssh.SSHKey | None:
        if not self._keys:
            return None
        self.key_used, key = self._keys.pop(0)
        log.debug("offering key %s", self.key_used)
        return key

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.server_key = key  # not in known_hosts: remember it for the error message
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


async def _host_key_error(host: str, port: int, known_hosts: Path, client: Client | None,
                          timeout: float) -> HostKeyError:
    key = client.server_key if client else None
    fp = knownhosts.fingerprint(key) if key else await knownhosts.probe_fingerprint(host, port, timeout)
    old = knownhosts.trusted_keys(known_hosts, host, port)
    if old:
        return HostKeyError(knownhosts.changed_key_message(host, port, known_hosts, fp, old))
    return HostKeyError(knownhosts.unknown_key_message(host, port, known_hosts, fp))


async def open_connection(host: str, port: int, user: str, known_hosts: Path,
                          keys: list[tuple[Path, asyncssh.SSHKey]], timeout: float,
                          keepalive: float = 15.0, max_packet: int = MAX_PACKET, fast: bool = False,
                          ) -> tuple[asyncssh.SSHClientConnection, Client]:
    """Connect and authenticate; raises HostKeyError, RemoteRefused (keys refused) or TransportError."""
    where = f"connect to {user}@{knownhosts.host_pattern(host, port)}"
    if not known_hosts.is_file():
        fp = await knownhosts.probe_fingerprint(host, port, timeout)
        raise HostKeyError(knownhosts.missing_file_message(host, port, known_hosts, fp))
    made: list[Client] = []

    def factory() -> Client:
        made.append(Client(keys, fast=fast))
        return made[-1]

    try:
        conn, _ = await asyncssh.create_connection(
            factory, host, port, username=user, known_hosts=str(known_hosts), client_keys=None,
            agent_path=None, config=None, preferred_auth="publickey", encryption_algs=list(CIPHERS),
            compression_algs=["none"], max_pktsize=max_packet, connect_timeout=timeout, login_timeout=timeout,
            keepalive_interval=keepalive, keepalive_count_max=3)
        return conn, made[-1]  # the factory's Client, typed as such
    except asyncssh.HostKeyNotVerifiable:
        raise await _host_key_error(host, port, known_hosts, made[0] if made else None, timeout) from None
    except asyncssh.KeyExchangeFailed as exc:
        if "host key" in str(exc).lower():  # known_hosts lists only key types the server lacks
            raise await _host_key_error(host, port, known_hosts, None, timeout) from None
        raise TransportError(f"{where}: key exchange failed ({exc.reason})") from exc
    except asyncssh.PermissionDenied as exc:
        tried = ", ".join(str(p) for p, _ in keys)
        raise RemoteRefused(f"{where}: the server refused every key ({tried}); register the public "
                            f"key (.pub) with the platform for user {user}") from exc
    except (TimeoutError, asyncio.TimeoutError) as exc:
        raise ConnectFailed(f"{where}: timed out: no answer within {timeout:g} s") from exc
    except Exception as exc:
        mapped = translate(exc, where)
        if mapped is None:
            raise
        if type(mapped) is TransportError:  # refused, lost, reset: the platform cannot be reached
            mapped = ConnectFailed(str(mapped))
        raise mapped from exc
