"""Deploy hosts for the tests: OpenSSH sshd on free loopback ports, each with its own key and folder.

The executable is a stand-in (a shell script) that prints its version and answers `config check`,
`doctor` and `status --json`, failing on demand (or `config check` of a config that says "fail config
check"), so deploy is tested without the PyInstaller build. Its `config check` and `doctor` print a
library's deprecation warning on stderr after their answer, as the real executable's may.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sf1630.cli.main import main
from sf1630.testing.sshd import SshdServer, make_key

STANDIN = """#!/bin/sh
# Stand-in for the sf1630 executable (deploy tests).
VERSION="{version}"
FAIL=" {fail} "
WARNING="/usr/lib/python3/crypto.py:32: CryptographyDeprecationWarning: a library's warning on stderr"
cmd="$1"; [ "$cmd" = "config" ] && cmd="config-$2"
case "$FAIL" in *" $cmd "*) echo "sf1630: error: $cmd fails on purpose" >&2; exit 1;; esac
case "$1" in
  --version) echo "sf1630 $VERSION" ;;
  config) if grep -q "fail config check" "$4"; then echo "sf1630: error: $4: broken on purpose" >&2; exit 1; fi
          echo "config ok: $4"; echo "$WARNING" >&2 ;;
  status) printf '{{"version": "%s", "journal": {{"path": "/var/lib/sf1630/journal.db"}}}}\\n' "$VERSION" ;;
  doctor) {doctor} ;;
  *) echo "sf1630: error: argument COMMAND: invalid choice: '$1'" >&2; exit 2 ;;
esac
"""
NO_DOCTOR = ("echo \"sf1630: error: argument COMMAND: invalid choice: 'doctor' "
             "(choose from 'status', 'config')\" >&2; exit 2")


@dataclass
class DeployHost:
    """One sshd 'host' and the install folder it gets."""

    name: str
    server: SshdServer
    key: Path
    known_hosts: Path
    dir: Path
    extra: dict = field(default_factory=dict)

    @property
    def current(self) -> str | None:
        link = self.dir / "current"
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None

    def releases(self) -> list[str]:
        folder = self.dir / "releases"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def restarts(self) -> list[str]:
        log = self.dir / "restarts.log"
        return log.read_text().split() if log.exists() else []

    def state(self) -> dict:
        return json.loads((self.dir / "deploy.json").read_text())

    def snapshot(self) -> dict[str, tuple]:
        """Every path under the host's root with its kind, mode, size and mtime."""
        found = {}
        for path in sorted(self.dir.parent.rglob("*")):
            st = path.lstat()
            found[str(path)] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_size, st.st_mtime_ns)
        return found


@pytest.fixture
def make_host(tmp_path):
    """Factory: start an sshd 'host' with its own host key, client key, known_hosts and install dir."""
    started: list[SshdServer] = []

    def make(name: str, bin_dir: Path | None = None, passphrase: str = "", **extra) -> DeployHost:
        root = tmp_path / name
        (root / "home").mkdir(parents=True)
        # A clean login environment, as on a server: the test machine's own ~/.bashrc would add a
        # tenth of a second to every remote command. bin_dir goes first on the PATH of the session.
        env = f"SetEnv HOME={root / 'home'}"
        if bin_dir:
            env += f" PATH={bin_dir}:/usr/local/bin:/usr/bin:/bin"
        server = SshdServer(root / "sshd", extra_config=env + "\n")
        key = make_key(root / "client" / "id_ed25519", passphrase=passphrase)
        server.authorize(key)
        server.start()
        started.append(server)
        known = server.write_known_hosts(root / "client" / "known_hosts")
        return DeployHost(name, server, key, known, root / "opt" / "sf1630", extra)

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_standin(tmp_path):
    """Factory: a stand-in executable printing ``version``; commands in ``fail`` exit 1."""

    def make(version: str, fail: tuple[str, ...] = (), doctor: bool = False) -> Path:
        path = tmp_path / "bin" / version / "sf1630"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STANDIN.format(version=version, fail=" ".join(fail),
                                       doctor='echo doctor: all good; echo "$WARNING" >&2' if doctor else NO_DOCTOR))
        path.chmod(0o755)
        return path

    return make


@pytest.fixture
def site_files(tmp_path) -> Path:
    """A vendor's local files: agent config, two municipality files, a plugin folder, a secret."""
    site = tmp_path / "site"
    (site / "municipalities").mkdir(parents=True)
    (site / "plugins" / "pkg").mkdir(parents=True)
    (site / "agent.toml").write_text('[agent]\njournal = "/var/lib/sf1630/journal.db"\n')
    (site / "municipalities" / "aarhus.toml").write_text('[municipality]\nkey = "aarhus"\n')
    (site / "municipalities" / "odense.toml").write_text('[municipality]\nkey = "odense"\n')
    (site / "plugins" / "probe.py").write_text("PROBE = 1\n")
    (site / "plugins" / "pkg" / "__init__.py").write_text("")
    (site / "plugins" / "__pycache__").mkdir()
    (site / "plugins" / "__pycache__" / "probe.cpython-311.pyc").write_bytes(b"x")
    (site / "db.passphrase").write_text("not-a-real-secret\n")
    return site


@pytest.fixture
def make_inventory(tmp_path, site_files):
    """Factory: write deploy.toml for ``hosts`` (restart command logs to <dir>/restarts.log)."""

    def make(hosts: list[DeployHost], **defaults) -> Path:
        settings = {"user": getpass.getuser(), "service": "command", "keep_releases": 3, "connect_timeout": 5,
                    "min_free_mb": 1, "restart_command": 'echo "$SF1630_RELEASE" >> restarts.log', **defaults}
        lines = ["[deploy]", "parallel = 4", "", "[defaults]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        lines += ["", "[defaults.files]", f'config = "{site_files}/agent.toml"',
                  f'municipalities = ["{site_files}/municipalities/*.toml"]',
                  f'plugins = "{site_files}/plugins"', f'secrets = ["{site_files}/db.passphrase"]']
        for h in hosts:
            lines += ["", f"[hosts.{h.name}]", 'address = "127.0.0.1"', f"port = {h.server.port}",
                      f'key = "{h.key}"', f'known_hosts = "{h.known_hosts}"', f'dir = "{h.dir}"']
            lines += [f"{k} = {json.dumps(v)}" for k, v in h.extra.items()]
        path = tmp_path / "deploy.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    return make


@pytest.fixture
def sf1630(capsys):
    """Run `sf1630 ARGS...` in this process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def deploy_json(sf1630):
    """Run `sf1630 deploy ... --json`; returns (exit code, {host: report})."""

    def run(*args: str) -> tuple[int, dict]:
        code, out, err = sf1630("deploy", *args, "--json")
        try:
            reports = json.loads(out)
        except ValueError:
            raise AssertionError(f"no JSON from deploy (exit {code}):\n{out}\n{err}") from None
        return code, {r["host"]: r for r in reports}

    return run
