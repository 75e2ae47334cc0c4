"""Fixtures for the config, journal, cron and status tests: config folders and the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

AGENT = """\
[agent]
journal = "state/journal.sqlite"
spool = "state/spool"
environment = "test"
receipt_timeout = 600

[environments.test]
host = "127.0.0.1"
port = 2222
known_hosts = "keys/known_hosts"

[environments.production]
host = "sftp.platform.invalid"
port = 22
known_hosts = "/etc/sf1630/known_hosts"

[accounts.KY]
user = "KY_SFTPSIMPEL"
keys = ["keys/ky_ed25519", "keys/ky_ed25519.new"]
passphrase_env = "SF1630_KY_PASSPHRASE"

[accounts.AULA]
user = "AULA_SFTP"
keys = ["keys/aula"]
environment = "production"

[accounts.lis-aarhus]
user = "AARHUS_LIS01_SIMPEL"
keys = ["keys/aarhus"]
"""

IKAST = """\
[municipality]
key = "ikast-brande"
name = "Ikast-Brande Kommune"
cvr = "11111111"

[[send]]
source = "ky"
account = "KY"
recipients = ["IKAST-BRANDE_LIS01_SIMPEL"]
schedule = "0 2 1 * *"

[send.options]
adapter = "synthetic"

[[send]]
source = "aula"
account = "AULA"
routing = "dynamic"

[send.route]
sender_it_system = "3f1c2a9e-0b6d-4c1e-9a57-2d8e4b6f0a11"
"""

AARHUS = """\
[municipality]
key = "aarhus"
name = "Aarhus Kommune"
cvr = "22222222"

[receive]
account = "lis-aarhus"
expected_senders = ["KY_SFTPSIMPEL"]

[[receive.sinks]]
type = "sqlite"

[[receive.expect]]
source = "ky"
schedule = "0 6 5 * *"
grace = "6h"
"""

MakeConfig = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """Write an agent file and municipality files into a fresh folder; return the agent file's path."""

    def make(agent: str = AGENT, municipalities: dict[str, str] | None = None, folder: str = "site") -> Path:
        root = tmp_path / folder
        (root / "municipalities").mkdir(parents=True, exist_ok=True)
        (root / "agent.toml").write_text(textwrap.dedent(agent), encoding="utf-8")
        files = {"ikast-brande": IKAST, "aarhus": AARHUS} if municipalities is None else municipalities
        for name, text in files.items():
            (root / "municipalities" / f"{name}.toml").write_text(textwrap.dedent(text), encoding="utf-8")
        return root / "agent.toml"

    return make


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m sf1630 ARGS`` in a clean environment; return the finished process."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SF1630_")}
        clean.update(env or {})
        return subprocess.run([sys.executable, "-m", "sf1630", *args], cwd=tmp_path, env=clean,
                              capture_output=True, text=True, timeout=60)

    return run
