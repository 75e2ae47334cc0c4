"""``sf1630 keys new`` and ``keys list``, and a key rollover against OpenSSH's sshd checked by doctor."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import tomli_w

from sf1630.testing.sshd import SshdServer, make_key

from .conftest import in_process, sf1630

TODAY = date.today().strftime("%Y%m%d")


def write_config(folder: Path, *, port: int = 22, keys: list[str] | None = None, **account: Any) -> Path:
    """An agent file with one account KY (keys relative to the file) and one municipality sending KY."""
    (folder / "municipalities").mkdir(parents=True, exist_ok=True)
    doc = {"agent": {"journal": "state/journal.sqlite", "spool": "state/spool"},
           "environments": {"test": {"host": "127.0.0.1", "port": port, "known_hosts": "known_hosts"}},
           "accounts": {"KY": {"user": "KY_SFTPSIMPEL", "keys": keys or ["keys/ky_ed25519"], **account}}}
    (folder / "agent.toml").write_text(tomli_w.dumps(doc))
    municipality = {"municipality": {"key": "herning", "name": "Herning Kommune", "authority_id": "22222222",
                                     "cvr": "22222222"},
                    "send": [{"source": "ky", "account": "KY", "routing": "simple",
                              "recipients": ["HERNING_LIS01_SIMPEL"], "options": {"adapter": "synthetic"}}]}
    (folder / "municipalities" / "herning.toml").write_text(tomli_w.dumps(municipality))
    return folder / "agent.toml"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "agent"
    make_key(folder / "keys" / "ky_ed25519")
    return write_config(folder)


def test_keys_new_writes_an_exact_owner_only_pair_and_prints_what_to_register(site: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sf1630", "keys", "new", "--account", "KY", "--config", str(site)],
                          capture_output=True, text=True, preexec_fn=lambda: os.umask(0), timeout=60)
    assert done.returncode == 0, done.stderr
    private = site.parent / "keys" / f"ky_ed25519_{TODAY}"
    public = private.with_name(private.name + ".pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600  # exact, even with umask 0
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    key = asyncssh.read_private_key(str(private))
    line = public.read_text().strip()
    assert line.startswith("ssh-ed25519 ") and "sf1630 KY_SFTPSIMPEL" in line
    assert key.export_public_key("openssh").decode().split()[:2] == line.split()[:2]
    assert f"\n   {line}\n" in done.stdout
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(public)], capture_output=True, text=True).stdout.split()[1]
    assert f"fingerprint: {fingerprint}" in done.stdout
    assert f'keys = ["keys/ky_ed25519", "keys/ky_ed25519_{TODAY}"]' in done.stdout
    assert "for user KY_SFTPSIMPEL" in done.stdout


def test_a_second_key_the_same_day_never_overwrites_the_first(site: Path, capsys) -> None:
    status, _, _ = in_process("keys", "new", "--account", "KY", "--config", str(site))(capsys)
    first = site.parent / "keys" / f"ky_ed25519_{TODAY}"
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    status, out, _ = in_process("keys", "new", "--account", "KY", "--config", str(site), "--json")(capsys)
    result = json.loads(out)
    assert status == 0 and result["private_key"] == f"{first}_2"
    assert hashlib.sha256(first.read_bytes()).hexdigest() == digest
    assert result["toml"] == f'keys = ["keys/ky_ed25519", "keys/ky_ed25519_{TODAY}_2"]'
    assert result["fingerprint"].startswith("SHA256:") and result["encrypted"] is False


def test_the_new_key_takes_the_accounts_passphrase(tmp_path: Path, capsys, monkeypatch) -> None:
    folder = tmp_path / "agent"
    make_key(folder / "keys" / "ky_ed25519", passphrase="old secret")
    site = write_config(folder, passphrase_env="SF1630_TEST_KEY_PASS")
    monkeypatch.delenv("SF1630_TEST_KEY_PASS", raising=False)
    status, _, err = in_process("keys", "new", "--account", "KY", "--config", str(site))(capsys)
    assert status == 1 and "environment variable SF1630_TEST_KEY_PASS is not set" in err
    monkeypatch.setenv("SF1630_TEST_KEY_PASS", "old secret")
    status, out, _ = in_process("keys", "new", "--account", "KY", "--config", str(site))(capsys)
    assert status == 0 and "(mode 0600, encrypted)" in out
    new = folder / "keys" / f"ky_ed25519_{TODAY}"
    with pytest.raises(asyncssh.KeyImportError):
        asyncssh.read_private_key(str(new))
    assert asyncssh.read_private_key(str(new), "old secret")


def test_an_unknown_account_names_the_known_ones(site: Path, capsys) -> None:
    status, _, err = in_process("keys", "new", "--account", "DUBU", "--config", str(site))(capsys)
    assert status == 1 and "no account 'DUBU'" in err and "(accounts: KY)" in err


def test_a_rollover_against_sshd_seen_by_doctor(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "agent"
    old = make_key(folder / "keys" / "ky_ed25519")
    with SshdServer(tmp_path / "sshd") as server:
        for sub in ("IN", "OUT"):
            (server.home / sub).mkdir()
        server.authorize(old)
        site = write_config(folder, port=server.port, user=server.user)
        server.write_known_hosts(folder / "known_hosts")
        assert _connected(capsys, site) == ("ok", f"with key {old.name}")

        status, out, _ = in_process("keys", "new", "--account", "KY", "--config", str(site), "--json")(capsys)
        new = Path(json.loads(out)["private_key"])
        write_config(folder, port=server.port, user=server.user, keys=["keys/ky_ed25519", f"keys/{new.name}"])
        assert _connected(capsys, site) == ("ok", f"with key {old.name}")  # the old key still works

        # The platform takes the new key and drops the old one: the agent logs in with the second key.
        server.authorized_keys.write_text(Path(f"{new}.pub").read_text())
        assert _connected(capsys, site) == ("warn", f"the platform refused {old.name} and took {new.name}")

        write_config(folder, port=server.port, user=server.user, keys=[f"keys/{new.name}"])
        assert _connected(capsys, site) == ("ok", f"with key {new.name}")


def _connected(capsys, site: Path) -> tuple[str, str]:
    """The worst finding about the connection of account KY, and the part of its message that matters."""
    status, out, _ = in_process("doctor", "--config", str(site), "--json", "--timeout", "5")(capsys)
    found = [f for f in json.loads(out)["findings"] if f["topic"] == "connect KY"]
    assert status == 0, out
    worst = found[-1]
    marker = "with key" if worst["level"] == "ok" else "the platform refused"
    return worst["level"], worst["message"][worst["message"].index(marker):].split(":")[0]


def test_keys_list_shows_fingerprints_ages_and_modes(site: Path) -> None:
    done = sf1630("keys", "list", "--config", str(site))
    assert done.returncode == 0, done.stderr
    pub = site.parent / "keys" / "ky_ed25519.pub"
    fingerprint = asyncssh.read_public_key(str(pub)).get_fingerprint("sha256")
    assert done.stdout.split() == ["KY", "1.", str(site.parent / "keys" / "ky_ed25519"), fingerprint, "0", "days",
                                   "0600"]


def test_keys_new_on_a_fresh_site_suggests_only_keys_that_exist(tmp_path: Path, capsys) -> None:
    site = write_config(tmp_path / "agent")  # names keys/ky_ed25519, which was never made
    status, out, _ = in_process("keys", "new", "--account", "KY", "--config", str(site))(capsys)
    assert status == 0
    assert f'   keys = ["keys/ky_ed25519_{TODAY}"]\n' in out
    assert "keys/ky_ed25519 left out: no such file" in out and "after the key in use" not in out
    status, out, _ = in_process("keys", "new", "--account", "KY", "--config", str(site), "--json")(capsys)
    result = json.loads(out)
    assert result["toml"] == f'keys = ["keys/ky_ed25519_{TODAY}_2"]'
    assert result["missing_keys"] == ["keys/ky_ed25519"]

    # With the suggested line in place, the account's keys all exist and list cleanly.
    write_config(tmp_path / "agent", keys=[f"keys/ky_ed25519_{TODAY}"])
    assert sf1630("keys", "list", "--config", str(site)).returncode == 0


def test_keys_list_exits_1_for_a_missing_key_and_says_what_to_do(site: Path) -> None:
    write_config(site.parent, keys=["keys/ky_ed25519", "keys/ky_ed25519_gone"])
    gone = site.parent / "keys" / "ky_ed25519_gone"
    for json_flag in ([], ["--json"]):
        done = sf1630("keys", "list", "--config", str(site), *json_flag)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"sf1630: error: account KY lists key files that do not exist: {gone}; make one with "
            f"`sf1630 keys new --account KY` or correct its keys in {site}"]
    assert done.stdout and [r["age_days"] is None for r in json.loads(done.stdout)] == [False, True]
    text = sf1630("keys", "list", "--config", str(site))
    assert text.stdout.splitlines()[1].split()[-1] == "missing"
