"""stderr holds the command's own log lines and nothing else (issue #17): no warnings from the
libraries underneath, and under ``--log-format json`` one JSON object per line, for journald."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sf1630.simulator.sandbox import Sandbox

from .conftest import IKAST, KY

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sf1630", *args], capture_output=True, text=True, timeout=timeout)


def log_entries(stderr: str, fmt: str) -> list[dict | str]:
    """Every line of ``stderr`` as a log entry; fails on the first line that is not one."""
    entries: list[dict | str] = []
    for line in stderr.splitlines():
        if fmt == "json":
            entry = json.loads(line)
            assert isinstance(entry, dict) and {"level", "logger", "message"} <= set(entry), line
            entries.append(entry)
        elif TEXT_LINE.match(line):
            entries.append(line)
        else:  # a message over several lines continues the entry before it
            assert entries, f"stderr does not start with a log line: {line!r}"
    assert "Warning" not in stderr, stderr
    return entries


def messages(entries: list[dict | str]) -> str:
    return "\n".join(e["message"] if isinstance(e, dict) else e for e in entries)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_command_writes_only_its_own_log_lines(make_platform, make_agent_config, tmp_path, fmt):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    lis = make_agent_config(platform, "lis-vendor", send=False)
    log = ("--log-format", fmt)

    # The log options go before or after the command name alike.
    sent = run("send", "--config", str(sender), *log)
    assert sent.returncode == 0, sent.stderr
    assert "delivered KY_LIS_" in messages(log_entries(sent.stderr, fmt))
    platform.wait_idle()
    metadata = tmp_path / "delivered.metadata"  # the platform's metadata, kept before receive takes it
    [name] = [n for n in platform.files(IKAST.lis_user, "IN") if n.endswith(".metadata")]
    metadata.write_bytes((platform.root / IKAST.lis_user / "IN" / name).read_bytes())

    received = run(*log, "receive", "--config", str(lis))
    assert received.returncode == 0, received.stderr
    assert "loaded" in messages(log_entries(received.stderr, fmt))

    checks = [("config", "check", "--config", str(sender)), ("doctor", "--config", str(lis), "--timeout", "5"),
              ("keys", "list", "--config", str(sender)), ("keys", "new", "--account", KY.account,
                                                           "--config", str(sender)),
              ("validate", str(metadata))]
    for command in checks:
        done = run(*command, *log)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stdout.strip(), command
        log_entries(done.stderr, fmt)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_platform_serve_logs_only_log_lines_until_stopped(tmp_path: Path, fmt: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Sandbox(tmp_path, sources=(KY,), municipalities=(IKAST,)).write_platform(tmp_path / "platform.toml", port)
    server = subprocess.Popen([sys.executable, "-m", "sf1630", "platform", "serve", "--config", str(config),
                               "--log-format", fmt], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    text = messages(log_entries(stderr, fmt))
    assert f"platform listening on 127.0.0.1:{port}" in text and "platform stopped" in text


PLUGIN = '''
import warnings

import sf1630


@sf1630.hookimpl
def sf1630_register_commands(subparsers):
    parser = subparsers.add_parser("old", help="a command that warns")
    parser.set_defaults(func=lambda args: warnings.warn("option x is deprecated, use y") or 0)
'''


def test_a_python_warning_becomes_a_log_line(tmp_path: Path) -> None:
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "old_plugin.py").write_text(PLUGIN)
    (tmp_path / "agent.toml").write_text('[agent]\nplugin_paths = ["plug"]\n')
    done = subprocess.run([sys.executable, "-m", "sf1630", "old", "--log-format", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": ""})
    assert done.returncode == 0, done.stderr
    [entry] = [json.loads(line) for line in done.stderr.splitlines()]
    assert entry["level"] == "warning" and entry["logger"] == "py.warnings"
    assert "UserWarning: option x is deprecated, use y" in entry["message"]
