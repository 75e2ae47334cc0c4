"""``python -m bench --quick`` runs through and writes the report with its rows and plots (issue #9)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("matplotlib", reason="the bench extra is not installed (pip install -e '.[bench]')")
if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
    pytest.skip("OpenSSH sshd is not installed", allow_module_level=True)


@pytest.mark.slow
def test_quick_run_writes_tables_and_plots(tmp_path):
    clients = ["sftp", "session"] + (["rclone"] if shutil.which("rclone") else [])
    out = tmp_path / "docs"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--parts", "1,3,4", "--sizes", "1",
                           "--clients", ",".join(clients), "--municipalities", "4", "--lis", "2", "--big", "1",
                           "--big-mib", "2", "--rows", "20000", "--out", str(out), "--work", str(tmp_path / "work")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    text = (out / "PERFORMANCE.md").read_text()
    labels = {"sftp": "OpenSSH sftp (defaults)", "session": "sf1630 session", "rclone": "rclone"}
    for client in clients:
        for op in ("up", "down"):
            assert f"| 1 MiB | {op} | {labels[client]} | " in text
    assert "| 40 × 20 KiB | 40 of 40 |" in text  # 4 municipalities x 5 sources x 2 LIS, all loaded
    # ... and received again from the same start with both LIS agents at once, every delivery loaded
    assert "with the 2 LIS agents started at the same moment" in text and "40 of 40 loaded in" in text
    assert "| 1 × 2 MiB | 1 of 1 |" in text
    # Each run again with nothing to do (exit 0), and the cost a delivery adds beyond it, measured
    idle = [line for line in text.splitlines() if line.startswith("| 40 × 20 KiB | ") and line.count("|") == 5]
    assert len(idle) == 1 and "nan" not in idle[0], idle
    for loader in ("sqlite sink", "sqlite3 .import"):
        assert f"| {loader} | " in text
    if shutil.which("mariadb") and shutil.which("mariadb-import"):
        for loader in ("mariadb sink", "mariadb LOAD DATA", "mariadb-import"):
            assert f"| {loader} | " in text
        assert "the mariadb sink loads at" in text
    measured = text.split("## Running the benchmark")[0]  # the hand-written narrative follows
    assert "failed" not in measured  # no measurement failed
    assert "| Python bytecode | compiled" in text  # measured processes did not compile their modules at start
    assert "## Targets" in text and "| `sf1630 --version`" not in text  # part 5 was not asked for
    for png in ("transfer_sshd.png", "deliveries.png", "sinks.png"):
        assert (out / "img" / png).stat().st_size > 1000
