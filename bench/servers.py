"""The servers measured against: OpenSSH's sshd and the platform simulator, each in its own process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sf1630.testing.sshd import SshdServer, free_port, make_key

_CIPHER = re.compile(r"kex: client->server cipher: (\S+)")  # sshd and ssh -v


@dataclass
class Target:
    """Where the clients connect, and the local folder behind the user's SFTP start folder."""

    name: str
    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    home: Path  # local path of the start folder
    upload_dir: str = ""  # remote folder for uploads ("" or "OUT/")
    download_dir: str = ""  # remote folder the download sources are placed in
    log: Path | None = None  # server log naming the negotiated cipher, when it does

    def ciphers_since(self, offset: int) -> list[str]:
        """Ciphers the server logged for connections after ``offset`` bytes of its log."""
        if self.log is None or not self.log.exists():
            return []
        with self.log.open("rb") as f:
            f.seek(offset)
            return _CIPHER.findall(f.read().decode(errors="replace"))

    def log_size(self) -> int:
        """Current size of the server log (an offset for :meth:`ciphers_since`)."""
        return self.log.stat().st_size if self.log is not None and self.log.exists() else 0


class BenchSshd(SshdServer):
    """The tests' sshd, logging at DEBUG1 so each connection's cipher is on record."""

    def _write_config(self) -> None:
        super()._write_config()
        self.config.write_text(self.config.read_text().replace("LogLevel VERBOSE", "LogLevel DEBUG1"))


def start_sshd(work: Path, key: Path) -> tuple[BenchSshd, Target]:
    """sshd on a free loopback port with internal-sftp, trusting ``key``."""
    server = BenchSshd(work / "sshd")
    server.authorized_keys.write_text("")
    server.authorize(key)
    server.start()
    kh = server.write_known_hosts(work / "known_hosts_sshd")
    return server, Target("sshd", server.host, server.port, server.user, key, kh, server.home, log=server.log)


def user_key(work: Path) -> Path:
    """The benchmark's client key (ed25519, no passphrase)."""
    key = work / "id_ed25519"
    if not key.exists():
        make_key(key, comment="bench")
    return key


class PlatformProcess:
    """``sf1630 platform serve --config FILE`` in a child process, listening on ``port``."""

    def __init__(self, config: Path, port: int, log: Path, python: list[str] | None = None):
        self.config, self.port, self.log = config, port, log
        self.python = python or [sys.executable]  # e.g. with ``-m cProfile -o FILE`` (bench --profile)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> PlatformProcess:
        """Start and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([*self.python, "-m", "sf1630", "platform", "serve", "--config",
                                          str(self.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the simulator did not start; see {self.log}:\n{self.log.read_text()[-2000:]}")

    def cpu_seconds(self) -> float:
        """CPU the simulator process used so far."""
        if self.proc is None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM (the simulator finishes routes in flight), then wait."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def start_simulator(work: Path, user: str, key: Path) -> tuple[PlatformProcess, Target]:
    """The simulator with one user (uploads go to its OUT/, downloads come from its IN/)."""
    import asyncssh

    from sf1630.transport.knownhosts import known_hosts_line

    root, host_key, port = work / "platform", work / "platform_host_ed25519", free_port()
    config = work / "platform.toml"
    config.write_text(f'[server]\nroot = "{root}"\nhost_key = "{host_key}"\nport = {port}\n'
                      "settle_seconds = 0.0\n\n[retention]\ndays = 0\n\n"
                      f'[[users]]\nname = "{user}"\npublic_keys = ["{key}.pub"]\n')
    platform = PlatformProcess(config, port, work / "platform.log").start()
    kh = work / "known_hosts_platform"
    kh.write_text(known_hosts_line("127.0.0.1", port, asyncssh.read_private_key(str(host_key))))
    return platform, Target("simulator", "127.0.0.1", port, user, key, kh, root / user,
                            upload_dir="OUT/", download_dir="IN/")
