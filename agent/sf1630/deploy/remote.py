"""One SSH connection to a deploy host: commands, file uploads and reads, over fabric and paramiko.

Host keys are checked strictly, as the agent checks the platform's: only the inventory's known_hosts
file counts, an unknown key is refused and never added (issue #10).
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import shlex
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sf1630.deploy.inventory import Host
from sf1630.errors import ConfigError, HostKeyError, Sf1630Error, TransportError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # paramiko 2.12 warns about ciphers it merely lists
    import paramiko
    from fabric import Config, Connection

COMMAND_TIMEOUT = 300  # seconds; a remote `config check` or `doctor` that hangs longer is a failure


class RemoteCommandFailed(Sf1630Error):
    """A command on a deploy host exited non-zero."""

    def __init__(self, host: str, command: str, result: "CommandResult"):
        self.result = result
        detail = (result.stderr or result.stdout).strip().splitlines()
        tail = detail[-1] if detail else "no output"
        super().__init__(f"host {host}: `{command}` exited {result.exit_code}: {tail}")


@dataclass(frozen=True)
class CommandResult:
    """Exit code and output of one remote command."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def fingerprint(key: Any) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def q(path: str) -> str:
    """A remote path or word quoted for the POSIX shell."""
    return shlex.quote(path)


class Remote:
    """A connection to one inventory host. Use as a context manager."""

    def __init__(self, host: Host):
        self.host = host
        self._conn: Any = None
        self._sftp: Any = None
        self.connected = False  # True once the host answered and the key was checked

    def __enter__(self) -> "Remote":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect and authenticate; raises HostKeyError, TransportError or ConfigError."""
        _check_local_files(self.host)
        self._conn = _connection(self.host)
        try:
            self._conn.open()
            self.connected = True
        except (OSError, EOFError, paramiko.SSHException, HostKeyError) as exc:
            self.close()
            raise _connect_error(self.host, exc) from None

    def close(self) -> None:
        """Close SFTP and SSH; safe to call twice."""
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, command: str, *, check: bool = True, timeout: int = COMMAND_TIMEOUT) -> CommandResult:
        """Run a shell command on the host; with ``check`` a non-zero exit raises RemoteCommandFailed."""
        try:
            res = self._conn.run(command, hide=True, warn=True, in_stream=False, timeout=timeout)
        except (OSError, EOFError) as exc:
            raise TransportError(f"host {self.host.name}: connection lost during `{command}`: {exc}") from None
        except Exception as exc:  # invoke's CommandTimedOut and friends carry no common base
            raise TransportError(f"host {self.host.name}: `{command}` did not finish: {exc}") from None
        result = CommandResult(res.exited if res.exited is not None else -1, res.stdout, res.stderr)
        if check and not result.ok:
            raise RemoteCommandFailed(self.host.name, command, result)
        return result

    def privileged(self, command: str) -> str:
        """``command`` prefixed with ``sudo -n`` when the host is set to use sudo for service control."""
        return f"sudo -n {command}" if self.host.sudo else command

    @property
    def sftp(self) -> Any:
        if self._sftp is None:
            self._sftp = self._conn.sftp()
        return self._sftp

    def put(self, local: Path, remote: str, mode: int) -> int:
        """Upload ``local`` to ``remote`` atomically with ``mode``; returns bytes written."""
        with local.open("rb") as src:
            return self.put_stream(src, remote, mode)

    def put_stream(self, src: IO[bytes], remote: str, mode: int) -> int:
        """Write a stream to ``remote``: a ``.part`` file chmodded before the first byte, then renamed."""
        part = remote + ".part"
        with self.sftp.open(part, "wb") as dst:
            dst.chmod(mode)  # before any byte: a secret is never readable by others, even briefly
            dst.set_pipelined(True)
            shutil.copyfileobj(src, dst, 1 << 18)
            written = dst.tell()
        self.sftp.posix_rename(part, remote)
        return written

    def write_text(self, remote: str, text: str, mode: int = 0o644) -> None:
        """Write a small text file atomically."""
        self.put_stream(io.BytesIO(text.encode()), remote, mode)

    def makedirs(self, remote: str, mode: int = 0o755) -> None:
        """Create ``remote`` and its missing parents over SFTP (no shell round trip)."""
        missing = []
        path = remote
        while path not in ("", "/") and not self.exists(path):
            missing.append(path)
            path = posixpath.dirname(path)
        for path in reversed(missing):
            self.sftp.mkdir(path, mode)

    def exists(self, remote: str) -> bool:
        try:
            self.sftp.lstat(remote)
            return True
        except FileNotFoundError:
            return False

    def readlink(self, remote: str) -> str | None:
        """Where a remote symlink points, or None when there is no link."""
        try:
            return self.sftp.readlink(remote)
        except (FileNotFoundError, OSError):
            return None

    def listdir(self, remote: str) -> list[str]:
        """Names in a remote folder; empty when it does not exist."""
        try:
            return sorted(self.sftp.listdir(remote))
        except FileNotFoundError:
            return []

    def read_text(self, remote: str) -> str | None:
        """A small remote text file, or None when it does not exist."""
        try:
            with self.sftp.open(remote, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None


def _check_local_files(host: Host) -> None:
    if not host.known_hosts.is_file():
        raise ConfigError(f"host {host.name}: known_hosts file {host.known_hosts} does not exist; "
                          f"create it with: ssh-keyscan -p {host.port} {host.address} > {host.known_hosts} "
                          "(then compare the fingerprints with the host's own)")
    if not host.key.is_file():
        raise ConfigError(f"host {host.name}: SSH key {host.key} does not exist; create one with: "
                          f"ssh-keygen -t ed25519 -f {host.key}, and add {host.key}.pub to the host's "
                          "authorized_keys")


def _connection(host: Host) -> Any:
    """A fabric Connection that trusts only the inventory's known_hosts and uses only the given key."""
    conn = Connection(
        host.address, user=host.user, port=host.port, connect_timeout=int(host.connect_timeout),
        config=Config(overrides={"load_ssh_configs": False}),  # no ~/.ssh/config surprises
        connect_kwargs={"key_filename": [str(host.key)], "passphrase": host.passphrase(),
                        "look_for_keys": False, "allow_agent": False,
                        "banner_timeout": host.connect_timeout, "auth_timeout": host.connect_timeout},
    )
    conn.client.load_host_keys(str(host.known_hosts))
    conn.client.set_missing_host_key_policy(_RefuseUnknown(host))
    return conn


def _connect_error(host: Host, exc: BaseException) -> Exception:
    """The error a person sees for a failed connection: what happened and what to do."""
    if isinstance(exc, HostKeyError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            f"host {host.name} ({host.address}:{host.port}) offered {exc.key.get_name()} key "
            f"{fingerprint(exc.key)}, but {host.known_hosts} holds {fingerprint(exc.expected_key)}. "
            "The key changed: find out why before you replace the entry")
    if isinstance(exc, paramiko.AuthenticationException):
        return TransportError(f"host {host.name}: {host.user}@{host.address}:{host.port} refused key "
                              f"{host.key}: {exc}; check authorized_keys there and the passphrase")
    return TransportError(f"host {host.name}: cannot connect to {host.address}:{host.port}: "
                          f"{exc or type(exc).__name__}")


class _RefuseUnknown:
    """paramiko host-key policy: an unknown key is refused, with what a person needs to decide."""

    def __init__(self, host: Host):
        self.host = host

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        h = self.host
        kind = key.get_name().removeprefix("ssh-")
        raise HostKeyError(
            f"host {h.name} ({hostname}) offered {key.get_name()} key {fingerprint(key)}, which is not in "
            f"{h.known_hosts}. If it is the host's key (compare: ssh-keygen -lf "
            f"/etc/ssh/ssh_host_{kind}_key.pub on the host), trust it with: "
            f"ssh-keyscan -p {h.port} -t {kind} {h.address} >> {h.known_hosts}")

