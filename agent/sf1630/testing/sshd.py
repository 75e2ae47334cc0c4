"""An OpenSSH ``sshd`` on a free loopback port, for tests and benchmarks.

Everything lives in one folder: the config, a generated host key, ``authorized_keys``, the
pid file, the log and ``home/`` (the SFTP start folder). The server runs in the foreground
(``-D -e``) as the current user, so tests need no system configuration.

    server = SshdServer(tmp_path)
    key = make_key(tmp_path / "id_ed25519")
    server.authorize(key)
    server.start()
    server.write_known_hosts(tmp_path / "known_hosts")
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def make_key(path: Path, kind: str = "ed25519", passphrase: str = "", comment: str = "test") -> Path:
    """Generate an OpenSSH private key at ``path`` (and ``path.pub``); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", comment, "-f", str(path)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048"]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path


class SshdServer:
    """One ``sshd`` process serving SFTP from ``root/home`` on a loopback port."""

    def __init__(self, root: Path, *, host: str = "127.0.0.1", port: int = 0, sftp_server: str | None = None,
                 extra_config: str = ""):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port
        self.home = self.root / "home"
        self.home.mkdir(exist_ok=True)
        self.user = getpass.getuser()
        self.host_key = self.root / "ssh_host_ed25519_key"
        self.authorized_keys = self.root / "authorized_keys"
        self.config = self.root / "sshd_config"
        self.log = self.root / "sshd.log"
        self.sftp_server = sftp_server or f"internal-sftp -d {self.home}"
        self.extra_config = extra_config
        self.proc: subprocess.Popen[bytes] | None = None
        if not self.host_key.exists():
            make_key(self.host_key, "ed25519", comment="host")
        self.authorized_keys.touch()

    def authorize(self, key: Path) -> None:
        """Allow the public half of ``key`` (``key.pub``) to log in."""
        pub = Path(str(key) + ".pub").read_text().strip()
        with self.authorized_keys.open("a") as f:
            f.write(pub + "\n")

    def host_public_key(self) -> str:
        """The server's public host key line (``ssh-ed25519 AAAA... host``)."""
        return Path(str(self.host_key) + ".pub").read_text().strip()

    def known_hosts_line(self) -> str:
        """A known_hosts entry for this server (``[host]:port key``)."""
        kind, blob = self.host_public_key().split()[:2]
        return f"[{self.host}]:{self.port} {kind} {blob}\n"

    def write_known_hosts(self, path: Path) -> Path:
        """Write a known_hosts file that trusts this server; returns ``path``."""
        path.write_text(self.known_hosts_line())
        return path

    def _write_config(self) -> None:
        self.config.write_text(
            f"ListenAddress {self.host}:{self.port}\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nMaxStartups 100\nMaxSessions 100\nLogLevel VERBOSE\n"
            f"Subsystem sftp {self.sftp_server}\n" + self.extra_config)

    def start(self, timeout: float = 10.0) -> None:
        """Start sshd and wait until it accepts connections (keeps the port on a restart)."""
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)  # privilege-separation folder sshd insists on
        keep_port = self.port != 0
        for _ in range(5):
            if not keep_port:
                self.port = free_port(self.host)
            self._write_config()
            log = self.log.open("ab")
            self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            if self._wait_listening(timeout):
                return
            self.stop()
            if keep_port:
                break
        raise RuntimeError(f"sshd did not start; see {self.log}:\n{self.log.read_text()[-2000:]}")

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def session_pids(self) -> list[int]:
        """Process ids of every sshd process serving a connection (descendants of the listener)."""
        if self.proc is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
        found, todo = [], [self.proc.pid]
        while todo:
            kids = children.get(todo.pop(), [])
            found += kids
            todo += kids
        return found

    def kill_sessions(self) -> int:
        """Kill every connection the server is serving (a dropped link); returns how many."""
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        """Stop the listener and every connection it serves."""
        if self.proc is None:
            return
        self.kill_sessions()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> "SshdServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
