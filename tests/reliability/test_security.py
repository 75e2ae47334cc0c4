"""Security checks of docs/SECURITY.md (issue #5): keys, host keys, secrets in output.

What is already covered elsewhere and not repeated here: owner-only files under any umask
(tests/vendor/test_protection.py, tests/agent/test_journal.py, tests/ops/test_keys.py), the
simulator's confinement of '..', absolute paths and symbolic links and IN/ being read-and-delete
only (tests/simulator/test_confinement.py), a changed host key on receive (tests/flows).
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib

import asyncssh
import tomli_w

from sf1630.transport.knownhosts import known_hosts_line

from .conftest import KY, sf1630
from .world import states

PASSPHRASE = "kodeord-9f3e-Åø"


def _agent_files(agent_toml) -> bytes:
    return b"".join(p.read_bytes() for p in agent_toml.parent.rglob("*") if p.is_file() and p.suffix != ".toml")


def test_a_changed_host_key_stops_sending_before_anything_is_uploaded(make_world):
    world = make_world()
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    known = world.platform.sandbox.keys / "known_hosts"
    known.write_text(known_hosts_line("127.0.0.1", world.proxy.port, stranger))

    done = sf1630("send", "--config", str(world.sender), timeout=30)

    assert done.returncode == 1
    text = done.stdout + done.stderr
    assert "host key" in text and "ssh-keygen -R" in text and stranger.get_fingerprint() in text
    assert world.proxy.connections <= 2  # refused at once, not retried with backoff
    assert world.platform.files(KY.user, "OUT") == [] and states(world.sender, "send") == {"extracted": 1}


def test_a_private_key_others_can_read_is_refused(make_world):
    world = make_world()
    key = world.platform.sandbox.key_of(KY.user)
    key.chmod(0o644)

    done = sf1630("send", "--config", str(world.sender), timeout=30)

    assert done.returncode == 1
    assert str(key) in done.stderr and "0644" in done.stderr and f"chmod 600 {key}" in done.stderr
    assert world.proxy.connections == 0 and world.platform.files(KY.user, "OUT") == []
    key.chmod(0o600)
    assert sf1630("send", "--config", str(world.sender)).returncode == 0


def _protect_with_passphrase(world, how: str) -> dict[str, str]:
    """Encrypt KY's key in place and point the account at the passphrase; returns the env to run with."""
    key = world.platform.sandbox.key_of(KY.user)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", PASSPHRASE, "-f", str(key)], check=True,
                   capture_output=True)
    doc = tomllib.loads(world.sender.read_text())
    if how == "env":
        doc["accounts"]["KY"]["passphrase_env"] = "SF1630_TEST_KY_PASSPHRASE"
    else:
        secret = world.sender.parent / "ky.passphrase"
        secret.write_text(PASSPHRASE + "\n")
        secret.chmod(0o600)
        doc["accounts"]["KY"]["passphrase_file"] = str(secret)
    world.sender.write_text(tomli_w.dumps(doc))
    return {"SF1630_TEST_KY_PASSPHRASE": PASSPHRASE} if how == "env" else {}


def test_no_passphrase_in_logs_status_journal_or_spool(make_world):
    world = make_world()
    env = _protect_with_passphrase(world, "env")
    outputs = []
    for fmt in ("text", "json"):
        done = subprocess.run(["python", "-m", "sf1630", "--log-level", "DEBUG", "--log-format", fmt, "send",
                               "--config", str(world.sender)], env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout + done.stderr)
    for args in (["status"], ["status", "--json"], ["config", "check"]):
        done = sf1630(*args, "--config", str(world.sender), env=env)
        outputs.append(done.stdout + done.stderr)
    assert json.loads(outputs[3])  # status --json is JSON
    assert states(world.sender, "send") == {"delivered": 1}
    assert all(PASSPHRASE not in text for text in outputs)
    assert PASSPHRASE.encode() not in _agent_files(world.sender)


def test_a_wrong_passphrase_is_named_but_never_shown(make_world):
    world = make_world()
    _protect_with_passphrase(world, "file")
    (world.sender.parent / "ky.passphrase").write_text("not-" + PASSPHRASE)

    done = sf1630("--log-level", "DEBUG", "send", "--config", str(world.sender), timeout=30)

    assert done.returncode == 1
    text = done.stdout + done.stderr
    assert "passphrase" in text and str(world.platform.sandbox.key_of(KY.user)) in text
    assert PASSPHRASE not in text and "not-" + PASSPHRASE not in text


def test_the_simulator_keeps_a_user_out_of_other_users_folders(make_world):
    """Beyond tests/simulator/test_confinement.py: renames out through '..', and a symbolic link that
    someone with access to the disk planted in a user's IN/ -- read and delete both refused."""
    import asyncio

    from sf1630.errors import RemoteMissing, RemoteRefused
    from sf1630.transport.sftp import Credentials, Endpoint, connect

    from .conftest import IKAST

    world = make_world()
    root, sandbox = world.platform.root, world.platform.sandbox
    secret = root / IKAST.lis_user / "IN" / "theirs.csv"
    secret.write_bytes(b"not yours")
    (root / KY.user / "IN" / "planted.csv").symlink_to(secret)
    (root / KY.user / "OUT" / "mine.csv").write_bytes(b"mine")

    async def attempts() -> list[str]:
        session = await connect(Endpoint("127.0.0.1", world.proxy.port, sandbox.keys / "known_hosts"),
                                Credentials(KY.user, (sandbox.key_of(KY.user),)))
        outcomes = []
        try:
            for attempt in (lambda: session.read_bytes("IN/planted.csv"),
                            lambda: session.remove("IN/planted.csv"),
                            lambda: session.rename("OUT/mine.csv", f"../{IKAST.lis_user}/IN/mine.csv"),
                            lambda: session.rename("OUT/mine.csv", f"OUT/../../{IKAST.lis_user}/IN/mine.csv"),
                            lambda: session.listdir(f"../{IKAST.lis_user}/IN")):
                try:
                    await attempt()
                    outcomes.append("allowed")
                except (RemoteRefused, RemoteMissing) as exc:
                    outcomes.append(type(exc).__name__)
        finally:
            await session.close()
        return outcomes

    assert asyncio.run(attempts()) == ["RemoteRefused"] * 5
    assert secret.read_bytes() == b"not yours" and (root / KY.user / "OUT" / "mine.csv").exists()
    assert sorted(p.name for p in (root / IKAST.lis_user / "IN").iterdir()) == ["theirs.csv"]
