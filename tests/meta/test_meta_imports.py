"""Every module under agent/ and plugins/ imports on its own (pip-tools' circular-import test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SOURCE_ROOTS = (ROOT / "agent", ROOT / "plugins")
SKIP = {"sf1630.__main__"}  # importing it runs the command line


def module_names() -> list[str]:
    names = []
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if name not in SKIP and "__pycache__" not in path.parts:
                names.append(name)
    return names


MODULES = module_names()


@pytest.fixture(scope="module")
def import_results() -> dict[str, str]:
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("import_runner.py")), *MODULES],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_package_is_found():
    assert {"sf1630", "sf1630.plugins", "sf1630.hookspecs", "sf1630_plugins.all"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_on_its_own(module, import_results):
    assert import_results[module] == "", f"import {module} failed in a fresh process:\n{import_results[module]}"
