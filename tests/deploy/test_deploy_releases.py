"""Deploys of one executable with changing configs keep every release they promise to keep (issue #25)."""

from __future__ import annotations

import hashlib

from sf1630.deploy.state import next_release_name


def _config(site_files, revision: int, broken: bool = False) -> None:
    text = f'[agent]\njournal = "/var/lib/sf1630/journal.db"\n# revision {revision}\n'
    (site_files / "agent.toml").write_text(text + ("# fail config check\n" if broken else ""))


def _contents(host) -> dict[str, dict[str, str]]:
    """Per release folder on the host: SHA-256 of each file in it (the links to shared folders left out)."""
    found: dict[str, dict[str, str]] = {}
    for release in (host.dir / "releases").iterdir():
        files = [p.relative_to(release) for p in release.rglob("*") if p.is_file()]
        found[release.name] = {str(p): hashlib.sha256((release / p).read_bytes()).hexdigest()
                               for p in files if p.parts[0] not in ("state", "keys")}
    return found


def _running_config(host) -> str:
    return (host.dir / "current" / "agent.toml").read_text()


def test_config_only_deploys_keep_every_release_and_roll_back_one_at_a_time(
        make_host, make_standin, make_inventory, deploy_json, sf1630, site_files):
    host = make_host("alpha")
    inventory = make_inventory([host], keep_releases=3)
    binary = make_standin("0.1.0", doctor=True)
    deploy = ("-i", inventory, "--binary", binary)

    _config(site_files, 1)
    assert deploy_json(*deploy)[1]["alpha"]["after"] == "0.1.0"
    _config(site_files, 2)
    assert deploy_json(*deploy)[1]["alpha"]["after"] == "0.1.0-2"
    kept = _contents(host)

    _config(site_files, 3, broken=True)
    code, reports = deploy_json(*deploy)

    assert code == 1 and reports["alpha"]["result"] == "failed"
    assert "config check" in reports["alpha"]["error"] and "broken on purpose" in reports["alpha"]["error"]
    assert _contents(host) == kept  # the running release and the one kept for rollback, byte for byte
    assert host.current == "0.1.0-2" and host.state()["releases"] == ["0.1.0", "0.1.0-2"]
    assert host.restarts() == ["0.1.0", "0.1.0-2"]

    _config(site_files, 4)
    code, out, _ = sf1630("deploy", *deploy, "--dry-run")
    assert code == 0 and f"{host.dir}/releases/0.1.0-4/sf1630" in out  # never the name of the failed try
    code, reports = deploy_json(*deploy)

    assert code == 0 and reports["alpha"]["after"] == "0.1.0-4"
    notes = {s["name"]: s["note"] for s in reports["alpha"]["steps"]}
    assert notes["prune"] == "3 releases kept"
    assert notes["doctor"] == "doctor: all good" and notes["config check"] == "config ok: agent.toml"
    assert {k: v for k, v in _contents(host).items() if k in kept} == kept
    assert host.releases() == ["0.1.0", "0.1.0-2", "0.1.0-4"] and "# revision 4" in _running_config(host)

    code, out, _ = sf1630("deploy", "status", "-i", inventory)
    row = out.splitlines()[1].split()
    assert out.split()[1] == "RELEASE" and row[:2] == ["alpha", "0.1.0-4"]
    details = deploy_json("status", "-i", inventory)[1]["alpha"]["details"]
    assert (details["release"], details["version"]) == ("0.1.0-4", "0.1.0")

    for release, revision in (("0.1.0-2", 2), ("0.1.0", 1)):
        code, reports = deploy_json("rollback", "-i", inventory)
        assert code == 0 and reports["alpha"]["after"] == release
        assert host.current == release and f"# revision {revision}" in _running_config(host)
    code, reports = deploy_json("rollback", "-i", inventory)
    assert code == 1 and "no release before 0.1.0 " in reports["alpha"]["error"]
    assert host.restarts() == ["0.1.0", "0.1.0-2", "0.1.0-4", "0.1.0-2", "0.1.0"]


def test_pruning_a_redeployed_version_keeps_keep_releases_and_says_so(make_host, make_standin, make_inventory,
                                                                      deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host], keep_releases=2)
    binary = make_standin("1.0.0")
    notes = []
    for _ in range(4):
        code, reports = deploy_json("-i", inventory, "--binary", binary)
        assert code == 0
        notes.append(next(s["note"] for s in reports["alpha"]["steps"] if s["name"] == "prune"))

    assert host.releases() == ["1.0.0-3", "1.0.0-4"] and host.current == "1.0.0-4"
    assert notes == ["1 release kept", "2 releases kept", "removed 1.0.0; 2 releases kept",
                     "removed 1.0.0-2; 2 releases kept"]
    assert host.state()["releases"] == ["1.0.0-3", "1.0.0-4"]


def test_a_release_name_is_never_one_the_host_has_or_had():
    assert next_release_name("1.0.0", set()) == "1.0.0"
    assert next_release_name("1.0.0", {"0.9.0"}) == "1.0.0"
    assert next_release_name("1.0.0", {"1.0.0"}) == "1.0.0-2"
    assert next_release_name("1.0.0", {"1.0.0-2"}) == "1.0.0-3"  # 1.0.0 itself was pruned
    assert next_release_name("1.0.0", {"1.0.0", "1.0.0-9", "1.0.0-10"}) == "1.0.0-11"
    assert next_release_name("1.0.0", {"1.0.0-rc1", "1.0.0.1"}) == "1.0.0"  # other versions
