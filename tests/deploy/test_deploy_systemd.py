"""service = "systemd" with sudo: the commands a host runs, against stand-ins for systemctl and sudo."""

from __future__ import annotations

from pathlib import Path

SYSTEMCTL = """#!/bin/sh
# Stand-in for systemctl: logs each call; is-active answers what the state file says.
echo "$*" >> "{log}"
case "$1" in
  restart) echo "$3" > "{restarted}" ;;
  is-active) cat "{state}"; [ "$(cat "{state}")" = active ] ;;
esac
"""
SUDO = """#!/bin/sh
# Stand-in for sudo: only ever called non-interactively.
[ "$1" = "-n" ] || {{ echo "sudo without -n" >&2; exit 1; }}
shift
echo "$*" >> "{log}"
exec "$@"
"""


def _fake_bin(folder: Path, state: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "state").write_text(state + "\n")
    (folder / "systemctl").write_text(SYSTEMCTL.format(log=folder / "systemctl.log", state=folder / "state",
                                                       restarted=folder / "restarted"))
    (folder / "sudo").write_text(SUDO.format(log=folder / "sudo.log"))
    for name in ("systemctl", "sudo"):
        (folder / name).chmod(0o755)
    return folder


def test_systemd_restart_and_health_go_through_sudo(make_host, make_standin, make_inventory, deploy_json,
                                                   tmp_path):
    fake = _fake_bin(tmp_path / "fakebin", "active")
    host = make_host("alpha", bin_dir=fake, service="systemd", sudo=True)
    inventory = make_inventory([host])

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))

    assert code == 0, reports["alpha"]["error"]
    calls = (fake / "systemctl.log").read_text().splitlines()
    assert calls[:2] == ["restart sf1630.service", "is-active sf1630.service"]
    assert (fake / "sudo.log").read_text().splitlines()[0] == "systemctl restart sf1630.service"
    health = next(s for s in reports["alpha"]["steps"] if s["name"] == "health")
    assert health["note"].startswith("sf1630.service active")
    code, reports = deploy_json("status", "-i", inventory)
    assert reports["alpha"]["details"]["service"] == "sf1630.service active"


def test_a_unit_that_fails_after_the_restart_is_rolled_back(make_host, make_standin, make_inventory,
                                                            deploy_json, tmp_path):
    fake = _fake_bin(tmp_path / "fakebin", "active")
    host = make_host("alpha", bin_dir=fake, service="systemd", sudo=True)
    inventory = make_inventory([host])
    deploy_json("-i", inventory, "--binary", make_standin("1.0.0"))
    (fake / "state").write_text("failed\n")

    code, reports = deploy_json("-i", inventory, "--binary", make_standin("1.1.0"))

    assert code == 1 and reports["alpha"]["result"] == "rolled back"
    assert "sf1630.service is failed after the restart; see journalctl -u sf1630.service" in reports["alpha"]["error"]
    assert host.current == "1.0.0"
    restarts = [c for c in (fake / "systemctl.log").read_text().splitlines() if c.startswith("restart")]
    assert len(restarts) == 3  # first install, the upgrade, and the old release again
