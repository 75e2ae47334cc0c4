"""The inventory: both host table forms, defaults, and errors that name file, line and key."""

from __future__ import annotations

import pytest

from pathlib import Path

from sf1630.deploy.inventory import load_inventory
from sf1630.errors import ConfigError

GOOD = """
[deploy]
parallel = 2

[defaults]
user = "sf1630"
key = "keys/deploy_ed25519"
known_hosts = "known_hosts"
service = "systemd"
keep_releases = 4

[defaults.files]
config = "agent/sf1630.toml"

[hosts.test]
address = "10.0.0.5"

[hosts.prod]
address = "10.0.0.6"
port = 2222
service = "none"
"""


EXAMPLE = Path(__file__).parents[2] / "conf" / "deploy.example.toml"


def test_the_example_inventory_loads(tmp_path):
    site = tmp_path / "site"
    for name in ("agent.toml", "municipalities/aarhus.toml", "municipalities/randers.toml",
                 "municipalities/odense.toml", "keys/known_hosts.production", "plugins/probe.py"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("")
    (tmp_path / "deploy.toml").write_text(EXAMPLE.read_text())

    inventory = load_inventory(tmp_path / "deploy.toml")

    assert list(inventory.hosts) == ["test", "prod-north", "prod-south"]
    south = inventory.hosts["prod-south"]
    assert (south.port, south.service, south.sudo, south.keep_releases) == (2202, "systemd", True, 3)
    assert [p.name for p in south.files.municipalities] == ["odense.toml"]
    assert len(inventory.hosts["test"].files.municipalities) == 3
    assert inventory.binary == tmp_path / "../dist/sf1630"


@pytest.fixture(autouse=True)
def agent_file(tmp_path):
    """The config file GOOD names."""
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "sf1630.toml").write_text("")


def test_hosts_get_the_defaults_and_paths_relative_to_the_inventory(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD)

    inventory = load_inventory(path)

    assert list(inventory.hosts) == ["test", "prod"] and inventory.parallel == 2
    test, prod = inventory.hosts["test"], inventory.hosts["prod"]
    assert (test.user, test.port, test.service, test.keep_releases) == ("sf1630", 22, "systemd", 4)
    assert (prod.port, prod.service) == (2222, "none")
    assert test.key == tmp_path / "keys/deploy_ed25519"
    assert test.files.config == tmp_path / "agent/sf1630.toml"
    assert test.dir == "/opt/sf1630"


def test_array_of_hosts_form(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text('[defaults]\nuser = "u"\nkey = "k"\nknown_hosts = "kh"\n\n'
                    '[[hosts]]\nname = "a"\naddress = "h1"\n\n[[hosts]]\nname = "b"\naddress = "h2"\n')

    assert [h.address for h in load_inventory(path).hosts.values()] == ["h1", "h2"]


@pytest.mark.parametrize("extra, line, words", [
    ('passphrase = "hunter2"', 22, "never put a secret in the inventory"),
    ('min_free_mb = "lots"', 22, "expected an integer"),
    ('unit = 5', 22, "expected a string"),
    ('dir = "opt/sf1630"', 22, "absolute path"),
    ('colour = "blue"', 22, "unknown key"),
])
def test_errors_name_the_file_line_and_key(tmp_path, extra, line, words):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD + extra + "\n")

    with pytest.raises(ConfigError) as err:
        load_inventory(path)

    message = str(err.value)
    assert message.startswith(f"{path}:{line}: hosts.prod.")
    assert words in message


def test_a_missing_config_file_is_named_where_the_inventory_names_it(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD.replace("agent/sf1630.toml", "agent/missing.toml"))

    with pytest.raises(ConfigError, match=r":13: defaults.files.config: .*missing.toml is not an existing file"):
        load_inventory(path)


def test_an_unknown_service_manager_is_refused(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD.replace('service = "none"', 'service = "upstart"'))

    with pytest.raises(ConfigError, match=r":21: hosts.prod.service: expected one of systemd, none, command"):
        load_inventory(path)


def test_an_unknown_host_name_lists_the_known_ones(tmp_path, sf1630):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD)

    code, _, err = sf1630("deploy", "status", "-i", path, "--host", "staging")

    assert code == 1
    assert "no host named staging; the inventory has test, prod" in err


def test_a_missing_passphrase_variable_is_named(tmp_path, monkeypatch):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD.replace('keep_releases = 4', 'keep_releases = 4\nkey_passphrase_env = "DEPLOY_PW"'))
    monkeypatch.delenv("DEPLOY_PW", raising=False)

    with pytest.raises(ConfigError, match="DEPLOY_PW .* is not set"):
        load_inventory(path).hosts["test"].passphrase()
