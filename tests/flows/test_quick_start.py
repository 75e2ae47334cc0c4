"""A command that connects starts no other program: asyncssh's look for optional libraries is
answered from the library folders, not by ``ldconfig``, ``gcc`` and ``ld`` (25-90 ms of CPU a start)."""

from __future__ import annotations

import ctypes.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sf1630.transport import libfind

from .conftest import IKAST, KY, loaded_rows, lis_database

EXECVE = re.compile(r'^\d+\s+execve\("([^"]+)", .*\) = 0$')


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (Debian package strace)")
def test_send_and_receive_run_no_other_program(make_platform, make_agent_config, tmp_path):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5)
    lis = make_agent_config(platform, "lis-vendor", send=False)
    for label, config in (("send", sender), ("receive", lis)):
        out = tmp_path / f"{label}.strace"
        done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(out), sys.executable, "-m",
                               "sf1630", "--log-level", "WARNING", label, "--config", str(config)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        started = [m.group(1) for line in out.read_text().splitlines() if (m := EXECVE.match(line))]
        assert started == [sys.executable], f"{label} started {started[1:]}"
        if label == "send":
            platform.wait_idle()
    assert len(loaded_rows(lis_database(lis))) == 1  # the run did connect, send and load


def test_liboqs_is_found_where_the_linker_looks(tmp_path, monkeypatch):
    """A liboqs in LD_LIBRARY_PATH is found first; other libraries are still ctypes' to find."""
    monkeypatch.setattr(ctypes.util, "find_library", ctypes.util.find_library)  # undone after the test
    libfind.quick_lookup()
    empty, folder = tmp_path / "empty", tmp_path / "lib"
    empty.mkdir()
    folder.mkdir()
    monkeypatch.setenv("LD_LIBRARY_PATH", str(empty))
    assert ctypes.util.find_library("oqs") == libfind.find_in_folders("liboqs")  # the system's, if any
    (folder / "liboqs.so.7").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{tmp_path / 'none'}:{empty}:{folder}")
    assert ctypes.util.find_library("oqs") == ctypes.util.find_library("liboqs") == str(folder / "liboqs.so.7")
    assert ctypes.util.find_library("c") == "libc.so.6"  # ctypes' own answer
    nettle = ctypes.util.find_library("nettle")
    assert nettle is None or Path(nettle).name.startswith("libnettle.so")


def test_folders_follow_ld_so_conf_includes(tmp_path, monkeypatch):
    conf = tmp_path / "ld.so.conf"
    (tmp_path / "conf.d").mkdir()
    conf.write_text("# comment\ninclude conf.d/*.conf\n/opt/first\n")
    (tmp_path / "conf.d" / "a.conf").write_text("/opt/oqs/lib  # the vendor's\n")
    assert list(libfind._conf(str(conf), depth=0)) == ["/opt/oqs/lib", "/opt/first"]
    assert Path("/usr/lib") in map(Path, libfind.folders())
