"""Many hosts: a refused host key, a host that is down, a dry run, a held lock; none stops the others."""

from __future__ import annotations

from sf1630.testing.sshd import SshdServer


def test_an_unknown_host_key_is_refused_and_nothing_is_written(make_host, make_standin, make_inventory,
                                                               deploy_json, tmp_path):
    host = make_host("alpha")
    stranger = SshdServer(tmp_path / "stranger")  # known_hosts names another server's key for this address
    host.known_hosts.write_text(f"[127.0.0.1]:{host.server.port} {stranger.host_public_key()}\n")
    other = make_host("beta")
    empty = other.known_hosts
    empty.write_text("")  # and beta's key is not known at all

    code, reports = deploy_json("-i", make_inventory([host, other]), "--binary", make_standin("1.0.0"))

    assert code == 1
    changed, unknown = reports["alpha"], reports["beta"]
    assert changed["result"] == unknown["result"] == "host key refused"
    assert "changed" in changed["error"] and "SHA256:" in changed["error"]
    assert "not in" in unknown["error"] and f"ssh-keyscan -p {other.server.port}" in unknown["error"]
    assert not host.dir.exists() and not other.dir.exists()
    assert empty.read_text() == ""  # never added


def test_a_host_that_is_down_fails_alone(make_host, make_standin, make_inventory, deploy_json, sf1630):
    hosts = [make_host("alpha"), make_host("down"), make_host("gamma")]
    hosts[1].server.stop()
    inventory = make_inventory(hosts)

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))

    assert code == 1
    assert reports["alpha"]["result"] == reports["gamma"]["result"] == "ok"
    assert reports["down"]["result"] == "unreachable"
    assert "cannot connect" in reports["down"]["error"]
    assert hosts[0].current == hosts[2].current == "1.0.0"
    code, out, _ = sf1630("deploy", "status", "-i", inventory)
    assert code == 1 and "unreachable" in out


def test_dry_run_says_what_each_host_would_get_and_changes_nothing(make_host, make_standin, make_inventory,
                                                                   sf1630):
    host = make_host("alpha")
    inventory = make_inventory([host])
    assert sf1630("deploy", "-i", inventory, "--binary", make_standin("1.0.0"))[0] == 0
    before = host.snapshot()

    code, out, _ = sf1630("deploy", "-i", inventory, "--binary", make_standin("1.1.0"), "--dry-run")

    assert code == 0
    assert "alpha: would upload sf1630 1.1.0" in out
    assert "releases/1.1.0/agent.toml (0600)" in out
    assert "from 1.0.0 to releases/1.1.0" in out
    assert "dry run" in out
    assert host.snapshot() == before
    assert host.current == "1.0.0"


def test_a_held_lock_stops_a_second_deploy_with_a_clear_message(make_host, make_standin, make_inventory,
                                                                deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))
    (host.dir / ".deploy.lock").mkdir()
    (host.dir / ".deploy.lock" / "owner").write_text("deploy since 2026-01-01T00:00:00Z\n")

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.1.0"))

    assert code == 1 and reports["alpha"]["result"] == "failed"
    assert "another deploy holds" in reports["alpha"]["error"]
    assert "2026-01-01" in reports["alpha"]["error"]
    assert host.current == "1.0.0" and host.releases() == ["1.0.0"]


def test_only_the_named_hosts_are_touched(make_host, make_standin, make_inventory, deploy_json):
    hosts = [make_host("alpha"), make_host("beta")]

    code, reports = deploy_json("-i", make_inventory(hosts), "--host", "beta", "--binary", make_standin("1.0.0"))

    assert code == 0 and list(reports) == ["beta"]
    assert hosts[0].current is None and hosts[1].current == "1.0.0"


def test_an_encrypted_deploy_key_opens_with_the_passphrase_from_the_environment(make_host, make_standin,
                                                                                make_inventory, deploy_json,
                                                                                monkeypatch):
    host = make_host("alpha", passphrase="correct horse", key_passphrase_env="TEST_DEPLOY_PASSPHRASE")
    inventory = make_inventory([host])
    monkeypatch.delenv("TEST_DEPLOY_PASSPHRASE", raising=False)

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))
    assert code == 1 and "TEST_DEPLOY_PASSPHRASE (key_passphrase_env) is not set" in reports["alpha"]["error"]

    monkeypatch.setenv("TEST_DEPLOY_PASSPHRASE", "correct horse")
    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))
    assert code == 0 and host.current == "1.0.0"
