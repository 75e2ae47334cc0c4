"""The vendor template in examples/sf1630-example-sink installs with pip and passes its own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from plugin_support import pip_install

EXAMPLE = Path(__file__).parents[2] / "examples" / "sf1630-example-sink"


def test_example_sink_installs_and_passes_its_tests(tmp_path):
    source, target = tmp_path / "src", tmp_path / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    pip_install(source, target)
    assert (target / "sf1630_example_sink.py").exists()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    shutil.rmtree(source / "tests" / "__pycache__", ignore_errors=True)
    (source / "sf1630_example_sink.py").unlink()  # test the installed copy, not the source
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=source, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
