"""The simulator's root holds extracts with CPR numbers: owner-only whatever the umask; failed logins are logged."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import asyncssh
import pytest

from .conftest import DATA, KY, LIS1, make_key, trigger_bytes


@pytest.fixture
def umask_022():
    """The usual umask of a login shell, under which new folders would be 0755 and files 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of everything under ``root`` (itself included), by path relative to it."""
    found = {".": root.stat().st_mode & 0o777}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = path.stat().st_mode & 0o777
    return found


def test_every_folder_is_0700_and_every_file_0600_under_umask_022(tmp_path, umask_022, make_platform, connect):
    older = tmp_path / "platform" / "root" / KY / "OUT"  # a root an earlier version made 0755
    older.mkdir(parents=True)
    for path in (older, older.parent, older.parent.parent):
        path.chmod(0o755)
    platform = make_platform()
    client = connect(platform, KY)

    data = b"cpr;name\n0101011234;A\n"

    async def upload() -> None:  # with the mode OpenSSH's sftp sends for a local 0644 file
        for name, body in ((DATA, data), (DATA + ".trigger", trigger_bytes(DATA, len(data)))):
            async with client.sftp.open(f"OUT/{name}", "wb", asyncssh.SFTPAttrs(permissions=0o644)) as f:
                await f.write(body)
    platform.run(upload())
    platform.wait_idle()

    found = modes(platform.root)
    assert {f"{KY}/IN/{DATA}.sftpreceipt", f"{LIS1}/IN/{DATA}", f"{LIS1}/IN/{DATA}.metadata"} <= set(found)
    assert {path: mode for path, mode in found.items() if (platform.root / path).is_dir() and mode != 0o700} == {}
    assert {path: mode for path, mode in found.items() if (platform.root / path).is_file() and mode != 0o600} == {}


def wait_for_warning(caplog, text: str, seconds: float = 5) -> str:
    """The first WARNING containing ``text``: the server logs it when the connection is gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no warning with {text!r}; logged: {[r.getMessage() for r in caplog.records]}")


@pytest.mark.parametrize("user", [KY, "NO_SUCH_USER"])
def test_a_failed_login_is_logged_with_user_address_and_reason(tmp_path, platform, caplog, user):
    wrong = make_key(tmp_path / "someone_elses_key")
    fingerprint = asyncssh.read_public_key(str(wrong) + ".pub").get_fingerprint()
    caplog.set_level(logging.WARNING, logger="sf1630.simulator")

    async def login() -> None:
        await asyncssh.connect("127.0.0.1", platform.port, username=user, client_keys=[str(wrong)],
                               known_hosts=str(platform.known_hosts))
    with pytest.raises(asyncssh.PermissionDenied):
        platform.run(login())

    line = wait_for_warning(caplog, f"failed login of user {user} from 127.0.0.1 port ")
    why = "no such user" if user != KY else f"key ssh-ed25519 {fingerprint} is not one of the user's public keys"
    assert line.endswith(f": {why}"), line
