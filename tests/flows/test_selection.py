"""A --municipality or --source that names nothing configured is refused with exit 2, never "nothing to send".

A cron line with a typo (``--municipality Odense`` when the key is ``odense``) must fail where the
operator sees it, and say which keys exist (issue #17).
"""

from __future__ import annotations

import pytest

from .conftest import AULA, HERNING, IKAST, KY, lis_database, loaded_rows, sf1630

NAMES = "configured: herning, ikast-brande"


@pytest.fixture
def site(make_platform, make_agent_config):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST, HERNING))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5)
    lis = make_agent_config(platform, "lis-vendor", send=False)
    return platform, sender, lis


@pytest.mark.parametrize("command, config, message", [
    (["send", "--municipality", "Ikast-Brande"], "sender",
     f"--municipality 'Ikast-Brande' matches no municipality (did you mean 'ikast-brande'?); {NAMES}"),
    (["send", "--dry-run", "--municipality", "hernig"], "sender",
     f"--municipality 'hernig' matches no municipality (did you mean 'herning'?); {NAMES}"),
    (["send", "--source", "ksd"], "sender",
     "--source 'ksd' matches no [[send]]; configured sources: aula, ky"),
    (["send", "--municipality", "herning", "--source", "KY"], "sender",
     "--source 'KY' matches no [[send]] of herning (did you mean 'ky'?); configured sources of herning: aula, ky"),
    (["send", "--municipality", "herning"], "lis",
     "--municipality 'herning': {folder}/municipalities/herning.toml has no [[send]], so there is nothing to "
     "send; municipalities that send: none"),
    (["receive", "--municipality", "Herning"], "lis",
     f"--municipality 'Herning' matches no municipality (did you mean 'herning'?); {NAMES}"),
    (["receive", "--dry-run", "--municipality", "herning"], "sender",
     "--municipality 'herning': {folder}/municipalities/herning.toml has no [receive], so there is nothing to "
     "receive; municipalities that receive: none"),
    (["run", "--source", "kp"], "sender", "--source 'kp' matches no [[send]]; configured sources: aula, ky"),
], ids=["case", "typo-dry-run", "source", "source-case", "lis-sends", "receive-case", "sender-receives", "run"])
def test_a_selection_that_matches_nothing_exits_2_with_the_keys_that_exist(site, command, config, message):
    platform, sender, lis = site
    agent = {"sender": sender, "lis": lis}[config]

    done = sf1630(*command, "--config", str(agent), timeout=30)

    assert done.returncode == 2, done.stdout + done.stderr
    assert f"sf1630: error: {message.format(folder=agent.parent)}" in done.stderr
    assert "nothing to" not in done.stdout
    assert platform.files(KY.user, "OUT") == [] and not (agent.parent / "state" / "journal.sqlite").exists()


def test_the_right_keys_still_send_and_receive(site):
    platform, sender, lis = site

    sent = sf1630("send", "--config", str(sender), "--municipality", "herning", "--source", "ky")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    platform.wait_idle()
    received = sf1630("receive", "--config", str(lis), "--municipality", "herning")

    assert received.returncode == 0, received.stdout + received.stderr
    loaded = loaded_rows(lis_database(lis))
    assert [name.split("_")[:2] for name in loaded] == [["KY", "LIS"]] and list(loaded.values())[0][0] == 5
    assert platform.files(IKAST.lis_user, "IN") == []
