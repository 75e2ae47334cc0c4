"""`sf1630 deploy` installs and upgrades hosts over SSH, and rolls back a release that fails its checks."""

from __future__ import annotations

import hashlib
import stat


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_install_puts_every_file_in_place_on_two_hosts(make_host, make_standin, make_inventory, sf1630,
                                                             site_files):
    hosts = [make_host("alpha"), make_host("beta")]
    binary = make_standin("1.0.0")

    code, out, err = sf1630("deploy", "--inventory", make_inventory(hosts), "--binary", binary)

    assert code == 0, out + err
    assert "alpha" in out and "beta" in out and out.count(" ok") >= 2
    for h in hosts:
        release = h.dir / "releases" / "1.0.0"
        assert h.current == "1.0.0"
        assert hashlib.sha256((release / "sf1630").read_bytes()).digest() == \
            hashlib.sha256(binary.read_bytes()).digest()
        assert _mode(release / "sf1630") == 0o755
        assert _mode(release / "agent.toml") == 0o600
        assert (release / "state").resolve() == (h.dir / "state").resolve() and _mode(h.dir / "state") == 0o700
        assert (release / "keys" / "db.passphrase").read_text() == "not-a-real-secret\n"
        assert sorted(p.name for p in (release / "municipalities").iterdir()) == ["aarhus.toml", "odense.toml"]
        assert _mode(release / "municipalities" / "aarhus.toml") == 0o600
        assert (release / "plugins" / "probe.py").read_text() == "PROBE = 1\n"
        assert (release / "plugins" / "pkg" / "__init__.py").exists()
        assert not (release / "plugins" / "__pycache__").exists()
        assert _mode(h.dir / "secrets") == 0o700 and _mode(h.dir / "secrets" / "db.passphrase") == 0o600
        assert h.restarts() == ["1.0.0"]
        assert h.state()["history"][-1]["result"] == "ok"
        assert not (h.dir / ".deploy.lock").exists()
    assert "config check" in err and "doctor" in err  # each step is logged


def test_upgrade_reports_versions_before_and_after(make_host, make_standin, make_inventory, deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.1.0", doctor=True))

    assert code == 0
    report = reports["alpha"]
    assert (report["before"], report["after"], report["result"]) == ("1.0.0", "1.1.0", "ok")
    assert [s["name"] for s in report["steps"]] == [
        "connect", "platform", "lock", "upload binary", "upload files", "config check", "doctor", "switch",
        "restart", "health", "prune"]
    assert next(s for s in report["steps"] if s["name"] == "doctor")["note"] == "doctor: all good"
    assert host.current == "1.1.0" and host.releases() == ["1.0.0", "1.1.0"]
    assert host.restarts() == ["1.0.0", "1.1.0"]
    assert host.state()["releases"] == ["1.0.0", "1.1.0"]


def test_a_failing_health_check_goes_back_to_the_previous_release(make_host, make_standin, make_inventory,
                                                                  deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("2.0.0", fail=("status",)))

    assert code == 1
    report = reports["alpha"]
    assert report["result"] == "rolled back"
    assert "status --json" in report["error"] and "fails on purpose" in report["error"]
    assert report["after"] == "1.0.0"
    assert host.current == "1.0.0"
    assert host.restarts() == ["1.0.0", "2.0.0", "1.0.0"]  # the old release was started again
    assert host.releases() == ["1.0.0"]  # the failed release is gone
    assert host.state()["history"][-1]["result"] == "rolled back"


def test_a_failing_config_check_changes_nothing_that_runs(make_host, make_standin, make_inventory, deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.1.0", fail=("config-check",)))

    assert code == 1
    assert reports["alpha"]["result"] == "failed"
    assert "config check" in reports["alpha"]["error"]
    assert host.current == "1.0.0" and host.restarts() == ["1.0.0"]
    assert host.releases() == ["1.0.0"]


def test_first_install_that_fails_health_leaves_no_current_link(make_host, make_standin, make_inventory,
                                                               deploy_json):
    host = make_host("alpha")

    code, reports = deploy_json("-i", make_inventory([host]), "--binary", make_standin("1.0.0", fail=("status",)))

    assert code == 1 and reports["alpha"]["result"] == "rolled back"
    assert host.current is None and host.releases() == []


def test_old_releases_beyond_keep_releases_are_removed(make_host, make_standin, make_inventory, deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host], keep_releases=2)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        code, _ = deploy_json("-i", inventory, "--binary", make_standin(version))
        assert code == 0

    assert host.releases() == ["1.1.0", "1.2.0"]
    assert host.current == "1.2.0"


def test_redeploying_the_running_version_never_overwrites_it(make_host, make_standin, make_inventory,
                                                             deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    binary = make_standin("1.0.0")
    deploy_json("-i", inventory, "--binary", binary)

    code, reports = deploy_json("-i", inventory, "--binary", binary)

    assert code == 0 and reports["alpha"]["after"] == "1.0.0-2"
    assert host.current == "1.0.0-2" and host.releases() == ["1.0.0", "1.0.0-2"]
