"""The one-file executable runs every command without Python, and loads plugins from plugin_paths (issue #4)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sf1630
from sf1630.cli.main import COMMANDS

pytestmark = pytest.mark.binary

CLI = Path(sf1630.__file__).parent / "cli"

PROBE = '''"""Probe plugin: a sink whose module imports stdlib modules the agent core never uses."""

import colorsys
import mailbox
import plistlib
import wave
import xml.dom.minidom
import xmlrpc.client
from dataclasses import dataclass

import sf1630
from sf1630.api import API_VERSION, LoadResult

__version__ = "0.0.1"
OK = xml.dom.minidom.parseString("<probe ok='yes'/>").documentElement.getAttribute("ok")
assert OK == "yes" and colorsys.rgb_to_hsv(1, 0, 0)[0] == 0 and mailbox.mbox and plistlib.dumps({})
assert wave.open and xmlrpc.client.dumps((1,))


@dataclass
class Options:
    """No options."""


class ProbeSink:
    name = "probe"
    api_version = API_VERSION
    Options = Options

    def load(self, delivery, path, options):
        return LoadResult(rows=0, table="probe")


@sf1630.hookimpl
def sf1630_register_sinks(register):
    register(ProbeSink())
'''


def test_version_is_the_package_version(run_binary):
    done = run_binary("--version")

    assert done.returncode == 0
    assert done.stdout.strip() == f"sf1630 {sf1630.__version__}"


def test_every_written_command_is_in_the_executable(binary_commands):
    written = {name for name in COMMANDS if (CLI / f"{name}.py").exists()}

    assert written <= binary_commands, f"missing from the build: {written - binary_commands}"


def test_demo_delivers_every_file_once(run_binary, binary_commands, tmp_path):
    if "demo" not in binary_commands:
        pytest.skip("`demo` is not a command of this build yet")

    done = run_binary("demo", "--rows", "20", "--workdir", tmp_path / "demo", timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "exactly once" in done.stdout


def test_validate_checks_documents_with_the_bundled_schema(run_binary, tmp_path):
    from sf1630.documents.trigger import FILE_TYPE, FileDescriptor, Trigger, build_trigger

    data = build_trigger(Trigger(FileDescriptor("KY_LIS_11111111_M03_20180402134858.csv", 1234, "KY",
                                                ("IKAST-BRANDE_LIS01_SIMPEL",)), file_type=FILE_TYPE))
    (tmp_path / "good.trigger").write_bytes(data)
    (tmp_path / "bad.trigger").write_bytes(data.replace(b">1234<", b">many<"))

    good = run_binary("validate", "good.trigger")
    bad = run_binary("validate", "bad.trigger")

    assert good.returncode == 0, good.stdout + good.stderr
    assert "trigger" in good.stdout
    assert bad.returncode == 1
    assert "bad.trigger" in bad.stdout + bad.stderr


def test_platform_lists_its_algorithms(run_binary, binary_commands):
    if "platform" not in binary_commands:
        pytest.skip("`platform` is not a command of this build yet")

    done = run_binary("platform", "serve", "--print-algorithms")

    assert done.returncode == 0 and "curve25519-sha256" in done.stdout


def _lis_config(run_binary, folder: Path) -> Path:
    done = run_binary("init", "--kind", "lis", folder)
    assert done.returncode == 0, done.stderr
    return folder / "agent.toml"


def test_a_plugin_from_plugin_paths_can_import_any_stdlib_module(run_binary, tmp_path):
    config = _lis_config(run_binary, tmp_path / "site")
    (tmp_path / "site" / "plugins").mkdir()
    (tmp_path / "site" / "plugins" / "sf1630_probe.py").write_text(PROBE)
    config.write_text(config.read_text().replace("plugin_paths = []", 'plugin_paths = ["plugins"]'))

    done = run_binary("plugins", "--json", "--config", config)

    assert done.returncode == 0, done.stderr
    probe = next(p for p in json.loads(done.stdout) if p["name"] == "sf1630_probe")
    assert probe["status"] == "active", probe
    assert probe["provides"]["sinks"] == ["probe"]
    assert "plugin_paths" in probe["origin"]


def test_the_example_plugin_installed_with_pip_target_is_found_and_configured(run_binary, tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "sf1630-example-sink"
    config = _lis_config(run_binary, tmp_path / "site")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                          "--target", str(tmp_path / "site" / "plugins"), str(example)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    config.write_text(config.read_text().replace("plugin_paths = []", 'plugin_paths = ["plugins"]'))
    town = tmp_path / "site" / "municipalities" / "example.toml"
    town.write_text(town.read_text().replace('{ type = "sqlite" }',
                                             '{ type = "jsonl", options = { folder = "state/jsonl" } }'))

    listing = run_binary("plugins", "--json", "--config", config)
    check = run_binary("config", "check", "--config", config)

    assert listing.returncode == 0, listing.stderr
    example_sink = next(p for p in json.loads(listing.stdout) if "jsonl" in p["provides"]["sinks"])
    assert example_sink["status"] == "active" and "entry point" in example_sink["origin"]
    assert check.returncode == 0, check.stdout + check.stderr


def test_init_config_check_and_status_work_on_a_fresh_site(run_binary, tmp_path):
    config = _lis_config(run_binary, tmp_path / "site")

    check = run_binary("config", "check", "--config", config)
    status = run_binary("status", "--json", "--config", config)

    assert check.returncode == 0, check.stdout + check.stderr
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["journal"].endswith("journal.sqlite")


def _median_seconds(args: list[str], cwd: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_start_up_time_of_the_executable_and_the_pip_install(sf1630_binary, run_binary, tmp_path, capsys):
    config = _lis_config(run_binary, tmp_path / "site")
    pip = shutil.which("sf1630")
    figures = {}
    for label, exe in (("executable", str(sf1630_binary)), ("pip install", pip)):
        if exe is None:
            continue
        figures[f"{label} --version"] = _median_seconds([exe, "--version"], tmp_path)
        figures[f"{label} status"] = _median_seconds([exe, "status", "--config", str(config)], tmp_path)

    with capsys.disabled():
        print("\nstart-up, median of 5 runs:")
        for name, seconds in figures.items():
            print(f"  {name:<24} {seconds:.2f} s")
    assert figures["executable --version"] < 5.0
