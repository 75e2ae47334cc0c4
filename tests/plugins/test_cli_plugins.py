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
    assert listing["ky"] == {"name": "ky", "version": listing["ky"]["version"], "origin": "built-in",
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
