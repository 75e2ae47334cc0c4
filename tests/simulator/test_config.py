"""The simulator's config: the example loads, every mistake is named with file, line and key; docs agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sf1630.errors import ConfigError
from sf1630.simulator import algorithms, codes
from sf1630.simulator.config import load_platform_config

REPO = Path(__file__).resolve().parents[2]


def test_example_config_loads():
    config = load_platform_config(REPO / "conf" / "platform.example.toml")
    assert config.server.port == 2222 and config.server.settle_seconds == 1.0
    assert config.server.root == (REPO / "var" / "platform").resolve()
    assert {u.name for u in config.users} >= {"KY_SFTPSIMPEL", "AULA_SFTP", "IKAST-BRANDE_LIS01_SIMPEL"}
    assert config.routes[0].infref == "KommunalLedelseInformationOverfør_1"
    assert config.routes[1].recipient_it_system is None
    assert config.retention.days == 30 and config.retention.warn_days == 20


BAD = '''[server]
root = "r"
port = "2222"
metadata_root = "Meta"
setle_seconds = 1

[[users]]
name = "KY"
public_keys = ["ky.pub"]

[[users]]
name = "bad/name"

[[routes]]
sender_authority = "a"
sender_it_system = "b"
recipient_authority = "c"
sftp_user = "KY"
recipient = "NOBODY"

[retention]
days = 10
warn_days = 20
'''


def test_every_problem_is_reported_with_line_and_key(tmp_path):
    path = tmp_path / "platform.toml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        load_platform_config(path)
    text = str(caught.value)
    for expected in (f"{path}:3: server.port: key 'port' must be an integer, not '2222' (string)",
                     f"{path}:4: server.metadata_root: must be one of",
                     f"{path}:5: server.setle_seconds: unknown key 'setle_seconds' (did you mean 'settle_seconds'?)",
                     f"{path}:12: users[2].name: 'bad/name'",
                     f"{path}:19: routes[1].recipient: 'NOBODY' is not one of the [[users]]",
                     f"{path}:23: retention.warn_days: must be less than days"):
        assert expected in text


def test_missing_file_and_broken_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the platform config"):
        load_platform_config(tmp_path / "nope.toml")
    (tmp_path / "broken.toml").write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_platform_config(tmp_path / "broken.toml")


def test_print_algorithms_lists_what_is_offered_and_nothing_weak():
    out = subprocess.run([sys.executable, "-m", "sf1630", "platform", "serve", "--print-algorithms"],
                         capture_output=True, text=True, timeout=30).stdout
    for name in ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr",
                 "hmac-sha2-256-etm@openssh.com", "curve25519-sha256", "ecdh-sha2-nistp256", "rsa-sha2-512"):
        assert name in out
    for weak in ("cbc", "sha1", "ssh-rsa\n", "hmac-md5"):
        assert weak not in out


def test_docs_list_every_code_and_algorithm():
    docs = (REPO / "docs" / "SIMULATOR.md").read_text(encoding="utf-8")
    assert codes.table_markdown() in docs
    assert codes.table_markdown() in (REPO / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    for _, names in algorithms.GROUPS:
        for name in names:
            assert f"`{name}`" in docs


def test_first_start_creates_folders_and_a_private_host_key(make_platform, caplog):
    caplog.set_level("INFO", logger="sf1630.simulator")
    running = make_platform()
    for user in running.config.users:
        assert (running.root / user.name / "IN").is_dir() and (running.root / user.name / "OUT").is_dir()
    key = running.config.server.host_key
    assert key.stat().st_mode & 0o777 == 0o600
    fingerprint = running.platform.host_key.get_fingerprint()
    assert f"platform listening on 127.0.0.1:{running.port}" in caplog.text and fingerprint in caplog.text
    assert running.known_hosts.read_text().split()[0] == f"[127.0.0.1]:{running.port}"


PATTERNS = '''municipalities = "list.csv"

[server]
root = "r"

[[users]]
name = "AULA_SFTP"

[[users]]
name = "{MUNICIPALITY}_LIS01_SIMPEL"
public_keys = ["keys/{municipality}.pub"]

[[routes]]
sftp_user = "AULA_SFTP"
sender_it_system = "7f17b8e5-543e-5321-aa66-ffd624488af4"
recipient = "{MUNICIPALITY}_LIS01_SIMPEL"
recipient_it_system = "{lis_system}"
'''


def test_users_and_routes_are_made_for_every_municipality_of_the_list(tmp_path):
    (tmp_path / "list.csv").write_text("key,name,cvr,lis_system\naarhus,Aarhus Kommune,22222222,s-aar\n"
                                       "herning,Herning Kommune,33333333,s-her\n")
    (tmp_path / "p.toml").write_text(PATTERNS)
    config = load_platform_config(tmp_path / "p.toml")
    assert [u.name for u in config.users] == ["AULA_SFTP", "AARHUS_LIS01_SIMPEL", "HERNING_LIS01_SIMPEL"]
    assert config.users[2].public_keys == [str(tmp_path / "keys" / "herning.pub")]
    herning = config.routes[1]
    assert (herning.recipient, herning.recipient_it_system) == ("HERNING_LIS01_SIMPEL", "s-her")
    assert herning.sender_authority == herning.recipient_authority == "urn:oio:cvr-nr:33333333"


def test_a_pattern_without_a_list_or_a_value_is_named_with_its_line(tmp_path):
    (tmp_path / "p.toml").write_text(PATTERNS.replace('municipalities = "list.csv"\n', ""))
    with pytest.raises(ConfigError) as caught:
        load_platform_config(tmp_path / "p.toml")
    assert f"{tmp_path / 'p.toml'}:8: users[2]: has placeholders" in str(caught.value)
    (tmp_path / "list.csv").write_text("key,name,cvr\naarhus,Aarhus Kommune,2222\n")
    (tmp_path / "p.toml").write_text(PATTERNS)
    with pytest.raises(ConfigError) as caught:
        load_platform_config(tmp_path / "p.toml")
    assert f"{tmp_path / 'list.csv'}:2: cvr: '2222' is not a CVR number" in str(caught.value)
