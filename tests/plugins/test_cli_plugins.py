"""``sf1630 plugins [--json]`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def sf1630(*args: str, cwd, env_extra=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    env.pop("SF1630_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "sf1630", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_plugins_json_lists_name_version_origin_hooks_and_what_each_provides(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "notify.py").write_text('import sf1630\n__version__ = "2.0"\n@sf1630.hookimpl\n'
                                      "def sf1630_on_failed(transfer, reason):\n    pass\n")
    done = sf1630("plugins", "--json", "--plugin-path", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listing = {p["name"]: p for p in json.loads(done.stdout)}
    assert {k: v for k, v in listing["ky"].items() if k != "options"} == {"name": "ky", "version": listing["ky"]["version"], "origin": "built-in",
                             "status": "active", "hooks": ["sf1630_register_sources"],
                             "provides": {"sources": ["ky"], "sinks": []}}
    assert listing["notify"]["version"] == "2.0" and listing["notify"]["hooks"] == ["sf1630_on_failed"]
    assert listing["notify"]["origin"] == f"plugin_paths {folder / 'notify.py'}"


def test_plugins_table_shows_failures_and_exits_1(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "broken.py").write_text("import nonexistent_dependency_of_a_vendor\n")
    done = sf1630("plugins", "--plugin-path", str(folder), cwd=tmp_path, env_extra={"SF1630_DISABLE_PLUGINS": "kp"})
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATUS", "PROVIDES", "HOOKS", "ORIGIN"]
    assert any(line.split()[:3] == ["kp", "0.1.0", "disabled"] for line in lines)
    assert any(line.split()[:3] == ["broken", "-", "failed"] for line in lines)
    assert "broken: ModuleNotFoundError: No module named 'nonexistent_dependency_of_a_vendor'" in done.stdout


EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "sf1630-example-sink",
                       "sf1630_example_sink.py")


def test_plugins_json_lists_each_source_and_sink_option_with_type_default_and_help(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "sf1630_example_sink.py").write_text(open(EXAMPLE, encoding="utf-8").read())
    done = sf1630("plugins", "--json", "--plugin-path", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listing = {p["name"]: p for p in json.loads(done.stdout)}
    postgres = {o["name"]: o for o in listing["postgres"]["options"]["sinks"]["postgres"]}
    assert postgres["dsn_env"] == {"name": "dsn_env", "type": "str", "default": "",
                                   "help": "environment variable holding the connection string (keeps passwords "
                                           "out of config); unset or empty is an error"}
    assert postgres["schema"]["type"] == "'evolve' | 'strict'" and postgres["schema"]["default"] == "evolve"
    ky = {o["name"]: o for o in listing["ky"]["options"]["sources"]["ky"]}
    assert ky["rows"]["default"] == 300 and ky["folder"]["type"] == "Path | None" and ky["folder"]["default"] is None
    assert listing["sf1630_example_sink"]["options"] == {"sources": {}, "sinks": {"jsonl": [
        {"name": "folder", "type": "Path", "default": "jsonl", "help": "folder the .jsonl files are written to"}]}}


def test_plugins_show_prints_the_options_of_a_source_or_sink(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "sf1630_example_sink.py").write_text(open(EXAMPLE, encoding="utf-8").read())

    ky = sf1630("plugins", "show", "ky", cwd=tmp_path)
    jsonl = sf1630("plugins", "--plugin-path", str(folder), "show", "jsonl", cwd=tmp_path)

    assert ky.returncode == 0, ky.stderr
    lines = ky.stdout.splitlines()
    assert lines[0].startswith("source ky, plugin ky ") and lines[0].endswith(" (built-in)")
    assert lines[1].split() == ["OPTION", "TYPE", "DEFAULT", "HELP"]
    assert "rows int 300 synthetic: how many payments to write" in [" ".join(line.split()) for line in lines]
    assert jsonl.returncode == 0, jsonl.stderr
    assert jsonl.stdout.splitlines()[0] == f"sink jsonl, plugin sf1630_example_sink 0.1.0 (plugin_paths " \
                                           f"{folder / 'sf1630_example_sink.py'})"
    row = " ".join(jsonl.stdout.splitlines()[2].split())
    assert row == 'folder Path "jsonl" folder the .jsonl files are written to'


def test_plugins_show_of_an_unknown_name_exits_2_with_a_did_you_mean(tmp_path):
    done = sf1630("plugins", "show", "Postgress", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "sf1630: error: no plugin, source or sink is named 'Postgress' (did you mean 'postgres'?); known: " \
           "alerts, aula, directory, dubu, kp, ksd, ky, mariadb, postgres, sqlite (see sf1630 plugins)" in done.stderr
