"""Connecting: key types, key order, passphrases, strict host-key checking."""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from sf1630.errors import ConfigError, HostKeyError, RemoteRefused
from sf1630.testing.sshd import make_key
from sf1630.transport.sftp import Credentials, Endpoint, connect


def fingerprint_of(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], check=True, capture_output=True, text=True).stdout
    return out.split()[1]


async def _who(endpoint: Endpoint, credentials: Credentials) -> tuple[Path, str]:
    async with await connect(endpoint, credentials, timeout=10) as s:
        await s.write_bytes("hello.txt", b"hi")
        return s.key_used, s.cipher


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_key_types_authenticate(sshd, keys, kind):
    creds = replace(sshd.credentials, keys=(keys[kind],))
    used, cipher = asyncio.run(_who(sshd.endpoint, creds))
    assert used == keys[kind]
    assert cipher == "aes128-gcm@openssh.com"  # preferred cipher, issue #8
    assert (sshd.home / "hello.txt").read_bytes() == b"hi"


def test_keys_are_tried_in_order_and_the_one_used_is_reported(sshd, keys):
    creds = replace(sshd.credentials, keys=(keys["stranger"], keys["rsa"], keys["ed25519"]))
    used, _ = asyncio.run(_who(sshd.endpoint, creds))
    assert used == keys["rsa"]


def test_passphrase_from_environment_variable(sshd, keys, monkeypatch):
    monkeypatch.setenv("SF1630_TEST_PASSPHRASE", "pæssfrase 1")
    creds = Credentials(sshd.credentials.user, (keys["secret"],), passphrase_env="SF1630_TEST_PASSPHRASE")
    assert asyncio.run(_who(sshd.endpoint, creds))[0] == keys["secret"]


def test_passphrase_from_file(sshd, keys, tmp_path):
    (tmp_path / "pass").write_text("pæssfrase 1\n", encoding="utf-8")
    creds = Credentials(sshd.credentials.user, (keys["secret"],), passphrase_file=tmp_path / "pass")
    assert asyncio.run(_who(sshd.endpoint, creds))[0] == keys["secret"]


def test_missing_passphrase_variable_is_a_config_error(sshd, keys, monkeypatch):
    monkeypatch.delenv("SF1630_NOT_SET", raising=False)
    creds = Credentials(sshd.credentials.user, (keys["secret"],), passphrase_env="SF1630_NOT_SET")
    with pytest.raises(ConfigError, match="SF1630_NOT_SET is not set"):
        asyncio.run(_who(sshd.endpoint, creds))


def test_wrong_passphrase_names_the_key(sshd, keys, monkeypatch):
    monkeypatch.setenv("SF1630_TEST_PASSPHRASE", "wrong")
    creds = Credentials(sshd.credentials.user, (keys["secret"],), passphrase_env="SF1630_TEST_PASSPHRASE")
    with pytest.raises(ConfigError, match=re.escape(str(keys["secret"]))):
        asyncio.run(_who(sshd.endpoint, creds))


def test_no_accepted_key_is_refused_with_advice(sshd, keys):
    creds = replace(sshd.credentials, keys=(keys["stranger"],))
    with pytest.raises(RemoteRefused, match="register the public key"):
        asyncio.run(_who(sshd.endpoint, creds))


def _host_key_failure(endpoint: Endpoint, credentials: Credentials) -> str:
    with pytest.raises(HostKeyError) as info:
        asyncio.run(_who(endpoint, credentials))
    return str(info.value)


def test_unknown_host_key_is_refused_with_fingerprint_and_command(sshd, tmp_path):
    known = tmp_path / "empty_known_hosts"
    known.write_text("[127.0.0.1]:1 ssh-ed25519 " + sshd.server.host_public_key().split()[1] + "\n")
    msg = _host_key_failure(replace(sshd.endpoint, known_hosts=known), sshd.credentials)
    assert fingerprint_of(Path(str(sshd.server.host_key) + ".pub")) in msg
    assert f"ssh-keyscan -p {sshd.server.port} 127.0.0.1 >> {known}" in msg
    assert "compare" in msg


def test_trust_command_from_the_message_works(sshd, tmp_path):
    known = tmp_path / "kh"
    known.write_text("")
    msg = _host_key_failure(replace(sshd.endpoint, known_hosts=known), sshd.credentials)
    command = msg.split("run: ")[-1]
    subprocess.run(command, shell=True, check=True, stderr=subprocess.DEVNULL)  # exactly as a user would
    assert asyncio.run(_who(replace(sshd.endpoint, known_hosts=known), sshd.credentials))


def test_changed_host_key_is_refused_with_both_fingerprints(sshd, tmp_path):
    other = make_key(tmp_path / "other_host_key", comment="other")
    known = tmp_path / "changed"
    known.write_text(f"[127.0.0.1]:{sshd.server.port} " + " ".join(Path(str(other) + ".pub").read_text().split()[:2]))
    msg = _host_key_failure(replace(sshd.endpoint, known_hosts=known), sshd.credentials)
    assert "CHANGED" in msg
    assert fingerprint_of(Path(str(sshd.server.host_key) + ".pub")) in msg
    assert fingerprint_of(Path(str(other) + ".pub")) in msg
    assert "ssh-keygen -R" in msg and "ssh-keyscan" in msg


def test_missing_known_hosts_file_is_refused_with_the_same_help(sshd, tmp_path):
    missing = tmp_path / "nope" / "known_hosts"
    msg = _host_key_failure(replace(sshd.endpoint, known_hosts=missing), sshd.credentials)
    assert "does not exist" in msg
    assert fingerprint_of(Path(str(sshd.server.host_key) + ".pub")) in msg
    assert f"ssh-keyscan -p {sshd.server.port} 127.0.0.1 >> {missing}" in msg
