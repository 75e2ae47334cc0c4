"""A full local disk during the extract and during the download (issue #5).

The agent's spool lives on a small tmpfs mounted for the test (root only; skipped otherwise).
The agent must say what is wrong and where, leave nothing half-written and nothing deleted on the
server, and finish the transfer once the disk has room again (``mount -o remount,size=...``).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import IKAST, KY, sf1630
from .world import states

ROWS = 20_000  # about 2.6 MB: more than the small disk holds


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, Callable[[str], None]]]:
    """A 1 MiB tmpfs at tmp/disk, and a function that gives it another size."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}); needs root")

    def resize(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)

    try:
        yield disk, resize
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_disk_full_during_the_extract(make_world, small_disk):
    disk, resize = small_disk
    world = make_world(rows=ROWS, agent={"spool": str(disk / "spool")})

    full = sf1630("send", "--config", str(world.sender))

    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "No space left on device" in full.stderr and "next round" in full.stderr
    assert states(world.sender, "send") == {"planned": 1}
    assert _files(disk) == [] and world.platform.files(KY.user, "OUT") == []  # nothing half-made, nothing sent

    resize("64m")
    again = sf1630("send", "--config", str(world.sender))
    assert again.returncode == 0, again.stdout + again.stderr
    world.platform.wait_idle()
    assert sf1630("receive", "--config", str(world.lis)).returncode == 0
    world.assert_all_once(1)


def _lis_on_small_disk(make_world, disk: Path):
    world = make_world(rows=ROWS, lis_agent={"spool": str(disk / "spool")})
    sent = sf1630("send", "--config", str(world.sender))
    assert sent.returncode == 0, sent.stderr
    world.platform.wait_idle()
    return world


def test_disk_full_during_the_download(make_world, small_disk):
    disk, resize = small_disk
    world = _lis_on_small_disk(make_world, disk)
    inbox = world.platform.files(IKAST.lis_user, "IN")
    started = time.monotonic()

    full = sf1630("receive", "--config", str(world.lis))

    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "No space left on device" in full.stderr and "network" not in full.stderr
    assert time.monotonic() - started < 10  # a full disk is not a network fault: no backoff retries
    assert world.platform.files(IKAST.lis_user, "IN") == inbox  # rule 4: deleted only once durable here
    assert not [p for p in _files(disk) if p.name.endswith(".part")]
    assert states(world.lis, "receive") == {"seen": 1}

    resize("64m")
    again = sf1630("receive", "--config", str(world.lis))
    assert again.returncode == 0, again.stdout + again.stderr
    world.assert_all_once(1)


def test_a_disk_with_no_room_at_all_for_the_download_folder(make_world, small_disk):
    disk, resize = small_disk
    world = _lis_on_small_disk(make_world, disk)
    subprocess.run(["dd", "if=/dev/zero", f"of={disk / 'filler'}", "bs=64k", "count=64"], capture_output=True)

    full = sf1630("receive", "--config", str(world.lis))

    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-3000:]
    # The download's folder (a SpoolError naming it) or the download itself says it is the local disk.
    assert "No space left on device" in full.stderr
    assert "spool" in full.stderr or "free space on the agent's disk" in full.stderr
    assert len(world.platform.files(IKAST.lis_user, "IN")) == 2

    (disk / "filler").unlink()
    resize("64m")
    again = sf1630("receive", "--config", str(world.lis))
    assert again.returncode == 0, again.stdout + again.stderr
    world.assert_all_once(1)
