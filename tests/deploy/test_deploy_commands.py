"""`sf1630 deploy rollback` and `sf1630 deploy status`."""

from __future__ import annotations


def test_rollback_goes_back_one_release_at_a_time(make_host, make_standin, make_inventory, deploy_json):
    host = make_host("alpha")
    inventory = make_inventory([host])
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        deploy_json("-i", inventory, "--binary", make_standin(version))

    code, reports = deploy_json("rollback", "-i", inventory)
    assert code == 0
    assert (reports["alpha"]["before"], reports["alpha"]["after"]) == ("1.2.0", "1.1.0")
    assert host.current == "1.1.0"

    code, reports = deploy_json("rollback", "-i", inventory)
    assert code == 0 and host.current == "1.0.0"
    assert host.restarts() == ["1.0.0", "1.1.0", "1.2.0", "1.1.0", "1.0.0"]

    code, reports = deploy_json("rollback", "-i", inventory)
    assert code == 1 and "no release before 1.0.0" in reports["alpha"]["error"]
    assert host.current == "1.0.0"


def test_status_shows_running_version_and_last_deploy(make_host, make_standin, make_inventory, sf1630,
                                                      deploy_json):
    hosts = [make_host("alpha"), make_host("beta")]
    inventory = make_inventory(hosts)
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))
    deploy_json("-i", inventory, "--host", "beta", "--binary", make_standin("1.1.0"))

    code, out, _ = sf1630("deploy", "status", "-i", inventory)

    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "1.0.0" in rows["alpha"] and "deploy - -> 1.0.0" in rows["alpha"]
    assert "1.1.0" in rows["beta"] and "deploy 1.0.0 -> 1.1.0" in rows["beta"]
    assert rows["beta"].rstrip().endswith("ok")
    code, reports = deploy_json("status", "-i", inventory)
    assert reports["beta"]["details"]["version"] == "1.1.0"
    assert reports["beta"]["details"]["releases"] == ["1.0.0", "1.1.0"]
    assert reports["beta"]["details"]["last"]["by"]
