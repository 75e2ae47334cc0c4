"""Host-key helpers: fingerprints, known_hosts look-ups and the help a refused user needs.

Host keys are checked strictly (issue #8): an unknown or changed key is refused, and the
message carries the key's SHA256 fingerprint and the command that trusts it.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import asyncssh


def fingerprint(key: asyncssh.SSHKey) -> str:
    """The key's fingerprint as OpenSSH prints it: ``SHA256:...``."""
    return key.get_fingerprint("sha256")


def host_pattern(host: str, port: int) -> str:
    """How known_hosts names a server: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    """A known_hosts entry that trusts ``key`` for ``host``:``port``."""
    kind, blob = key.export_public_key("openssh").decode().split()[:2]
    return f"{host_pattern(host, port)} {kind} {blob}\n"


def trust_command(host: str, port: int, known_hosts: Path) -> str:
    """The shell command that adds the server's current keys to ``known_hosts``."""
    port_arg = "" if port == 22 else f"-p {port} "
    return f"ssh-keyscan {port_arg}{shlex.quote(host)} >> {shlex.quote(str(known_hosts))}"


def forget_command(host: str, port: int, known_hosts: Path) -> str:
    """The shell command that removes the old entries for a server from ``known_hosts``."""
    return f"ssh-keygen -R {shlex.quote(host_pattern(host, port))} -f {shlex.quote(str(known_hosts))}"


def trusted_keys(known_hosts: Path, host: str, port: int) -> list[asyncssh.SSHKey]:
    """Keys that ``known_hosts`` trusts for the server (empty when none)."""
    try:
        matched = asyncssh.match_known_hosts(str(known_hosts), host, "", port)
    except (OSError, ValueError):
        return []
    return list(matched[0])


def _compare_advice(fp: str | None) -> str:
    seen = f"The server presented {fp}. " if fp else ""
    return (f"{seen}Before trusting it, compare that fingerprint with the one the platform publishes "
            "(`ssh-keygen -lf FILE` prints the fingerprints in a known_hosts file).")


def unknown_key_message(host: str, port: int, known_hosts: Path, fp: str | None) -> str:
    """Help for a server whose key ``known_hosts`` does not list."""
    return (f"host key of {host_pattern(host, port)} is not trusted: {known_hosts} has no entry for it. "
            f"{_compare_advice(fp)} To trust it, run: {trust_command(host, port, known_hosts)}")


def changed_key_message(host: str, port: int, known_hosts: Path, fp: str | None,
                        old: list[asyncssh.SSHKey]) -> str:
    """Help for a server whose key differs from the one ``known_hosts`` lists."""
    olds = ", ".join(fingerprint(k) for k in old)
    return (f"host key of {host_pattern(host, port)} has CHANGED: {known_hosts} trusts {olds}. "
            "This may be an attack or a re-installed server; do not trust it before you know which. "
            f"{_compare_advice(fp)} To replace the old entry, run: {forget_command(host, port, known_hosts)} "
            f"&& {trust_command(host, port, known_hosts)}")


def missing_file_message(host: str, port: int, known_hosts: Path, fp: str | None) -> str:
    """Help when the known_hosts file itself does not exist."""
    return (f"known_hosts file {known_hosts} does not exist, so the host key of "
            f"{host_pattern(host, port)} cannot be checked. {_compare_advice(fp)} "
            f"To create it, run: {trust_command(host, port, known_hosts)}")


async def probe_fingerprint(host: str, port: int, timeout: float) -> str | None:
    """Fetch the server's host key without trusting it, for the help text (None on failure)."""
    try:
        async with asyncio.timeout(timeout):
            key = await asyncssh.get_server_host_key(host, port, config=None)
    except (OSError, asyncssh.Error, TimeoutError):
        return None
    return fingerprint(key) if key else None
