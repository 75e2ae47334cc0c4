"""Key rotation (issue #14): during a rollover the account lists the old and the new key; once the
platform takes only the new one, the agent logs in with it and says which key worked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .conftest import IKAST, KY, cli, edit_toml, send


def test_the_old_key_is_refused_the_new_one_works_and_the_log_names_it(world, caplog):
    sender = world.sender()
    old = world.sandbox.key_of(KY.user)
    made = cli("keys", "new", "--account", KY.account, "--config", str(sender), "--json")
    assert made.returncode == 0, made.stderr
    new = Path(json.loads(made.stdout)["private_key"])
    assert new.parent == old.parent and new != old

    # The platform now holds only the new public key (registered with KOMBIT, old one removed).
    world.register_only(KY.user, Path(f"{new}.pub").read_text())
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="sf1630.transport")  # `doctor` run in-process earlier quiets it
    refused, _ = send(sender)  # still only the old key configured
    assert [t.state for t in refused.transfers] == ["extracted"]
    assert f"the server refused every key ({old})" in caplog.text

    caplog.clear()
    edit_toml(sender, lambda doc: doc["accounts"][KY.account].update(keys=[str(old), str(new)]))
    summary, _ = send(sender)

    assert [t.state for t in summary.transfers] == ["delivered"]
    connected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("connected to ")]
    assert connected and all(f"as {KY.user} with key {new} " in m for m in connected)
    world.wait_idle()
    assert len(world.files(IKAST.lis_user, "IN")) == 2  # the data file and its metadata
