"""Deploy the real executable from build/build.sh: its own config check, doctor and status run on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sf1630.testing.sshd import make_key

pytestmark = pytest.mark.binary


@pytest.fixture
def real_site(tmp_path, sf1630_binary) -> Path:
    """A LIS vendor's site written by the executable's `init`, with a key and a known_hosts file."""
    site = tmp_path / "real-site"
    subprocess.run([str(sf1630_binary), "init", "--kind", "lis", str(site)], check=True, capture_output=True)
    make_key(site / "keys" / "example_ed25519")
    host_key = make_key(tmp_path / "platform_host_key")  # the platform's key, as its operator publishes it
    kind, blob = Path(f"{host_key}.pub").read_text().split()[:2]
    (site / "keys" / "known_hosts.local").write_text(f"[127.0.0.1]:2222 {kind} {blob}\n")
    return site


def test_the_real_executable_deploys_and_answers_status(make_host, make_inventory, deploy_json, real_site,
                                                         site_files, sf1630_binary):
    host = make_host("alpha", doctor="offline", service="none")
    inventory = make_inventory([host])
    text = inventory.read_text().replace(str(site_files), str(real_site))
    text = text.replace(f'plugins = "{real_site}/plugins"\n', "")
    text = text.replace(f'secrets = ["{real_site}/db.passphrase"]', f'secrets = ["{real_site}/keys/*"]')
    inventory.write_text(text)

    code, reports = deploy_json("-i", inventory, "--binary", sf1630_binary)

    report = reports["alpha"]
    assert code == 0, (report["error"], report["steps"])
    notes = {s["name"]: s["note"] for s in report["steps"]}
    assert notes["config check"].startswith("ok:")
    assert "error" not in notes["doctor"] and "Warning" not in notes["doctor"]  # doctor's answer, not stderr
    assert "journal" in notes["health"]
    assert host.current == report["after"]
    done = subprocess.run([str(host.dir / "current" / "sf1630"), "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"sf1630 {report['after']}"


def test_the_executable_itself_deploys(make_host, make_standin, make_inventory, tmp_path, sf1630_binary):
    host = make_host("alpha")
    inventory = make_inventory([host])

    done = subprocess.run([str(sf1630_binary), "deploy", "-i", str(inventory), "--binary", str(make_standin("2.0.0")),
                           "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert host.current == "2.0.0"
