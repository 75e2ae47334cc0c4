"""The `sf1630` dispatcher: built-in commands, and commands that plugins add."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sf1630

PLUGIN = '''
import sf1630

@sf1630.hookimpl
def sf1630_register_commands(subparsers):
    parser = subparsers.add_parser("hello", help="say hello")
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=lambda args: print("hello", args.name) or 0)
'''


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sf1630", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60)


def test_plugin_command_from_plugin_paths(tmp_path: Path) -> None:
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "hello_plugin.py").write_text(PLUGIN)
    (tmp_path / "agent.toml").write_text('[agent]\nplugin_paths = ["plug"]\n')
    done = run(["hello", "--name", "Testby"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello Testby\n"
    listed = run(["--help"], tmp_path)
    assert "hello" in listed.stdout and "say hello" in listed.stdout


def test_unknown_command_names_the_choices(tmp_path: Path) -> None:
    done = run(["nosuch"], tmp_path)
    assert done.returncode == 2
    assert "invalid choice: 'nosuch'" in done.stderr and "demo" in done.stderr


def test_version_answers_without_loading_commands(tmp_path: Path) -> None:
    code = ("import sys, sf1630.cli.main as m; m.main(['--version']); "
            "print(sorted(n for n in sys.modules if n.startswith(('sf1630.cli.', 'asyncssh', 'lxml', 'pluggy'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.stdout.splitlines() == [f"sf1630 {sf1630.__version__}", "['sf1630.cli.main']"]


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    done = run([], tmp_path)
    assert done.returncode == 2
    assert "COMMAND" in done.stdout and "demo" in done.stdout
