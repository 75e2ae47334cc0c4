"""A site in a few lines (issue #20): [defaults], a municipality CSV, account patterns, `config show`
with where each value came from, colliding streams refused, and connections_per_host's default."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sf1630.config import check_config, load_config

SITE = """\
[agent]
environment = "test"
municipalities = ["municipalities.csv", "municipalities/*.toml"]

[environments.test]
host = "127.0.0.1"
port = 2222
known_hosts = "keys/known_hosts"

[accounts.KY]
user = "KY_SFTPSIMPEL"
keys = ["keys/ky"]

[accounts.LIS]
user = "{MUNICIPALITY}_LIS01_SIMPEL"
keys = ["keys/{municipality}_lis"]

[[defaults.send]]
source = "ky"
account = "KY"
recipients = ["{lis_user}"]
options = { adapter = "synthetic", rows = 100 }

[defaults.receive]
account = "LIS"

[[defaults.receive.sinks]]
type = "sqlite"
options = { path = "lis/{municipality}.sqlite3" }
"""
CSV = """\
key;name;cvr;lis_user
aarhus;Aarhus Kommune;22222222;AARHUS_LIS01_SIMPEL
herning;Herning Kommune;33333333;HERNING_LIS01_SIMPEL
"""


@pytest.fixture
def site(tmp_path: Path):
    def make(agent: str = SITE, csv: str = CSV, files: dict[str, str] | None = None) -> Path:
        root = tmp_path / "site"
        (root / "municipalities").mkdir(parents=True, exist_ok=True)
        (root / "agent.toml").write_text(textwrap.dedent(agent), encoding="utf-8")
        (root / "municipalities.csv").write_text(csv, encoding="utf-8")
        for name, text in (files or {}).items():
            (root / "municipalities" / f"{name}.toml").write_text(textwrap.dedent(text), encoding="utf-8")
        return root / "agent.toml"

    return make


def places(problems) -> set[tuple[str, int | None, str]]:
    return {(p.file.name, p.line, p.key) for p in problems}


def test_every_municipality_of_the_csv_gets_the_defaults_with_its_own_values(site):
    cfg = load_config(site())
    root = cfg.path.parent
    herning = cfg.municipality("herning")
    [send] = herning.sends
    assert (send.source, send.account, send.recipients) == ("ky", "KY", ["HERNING_LIS01_SIMPEL"])
    assert herning.municipality.cvr == "33333333" and herning.path == root / "municipalities.csv"
    assert herning.receive.account == "LIS:herning"
    assert herning.receive.sinks[0].options == {"path": "lis/herning.sqlite3"}
    assert herning.receive.sinks[0].base == root  # relative to the agent file that wrote it
    account = cfg.accounts["LIS:herning"]  # one pattern table, one account per municipality
    assert account.user == "HERNING_LIS01_SIMPEL" and account.keys == (root / "keys" / "herning_lis",)


def test_a_municipality_file_overrides_one_inherited_key_and_keeps_the_rest(site):
    cfg = load_config(site(files={"aarhus": """\
        [[send]]
        source = "ky"
        options = { rows = 7 }

        [[receive.sinks]]
        type = "sqlite"
        enabled = false

        [[receive.sinks]]
        type = "directory"
        options = { folder = "archive" }
        """}))
    aarhus, herning = cfg.municipality("aarhus"), cfg.municipality("herning")
    assert aarhus.sends[0].options == {"adapter": "synthetic", "rows": 7}  # one key overridden
    assert aarhus.sends[0].recipients == ["AARHUS_LIS01_SIMPEL"]  # the rest inherited
    assert herning.sends[0].options["rows"] == 100  # the others keep the default
    assert [s.type for s in aarhus.receive.sinks] == ["directory"]  # the inherited sink left out
    assert aarhus.receive.sinks[0].base == cfg.path.parent / "municipalities"
    assert aarhus.path.name == "aarhus.toml" and len(cfg.municipalities) == 2  # it refines its CSV line


def test_config_show_names_the_file_and_line_of_every_value(site):
    path = site(files={"aarhus": "[[send]]\nsource = \"ky\"\noptions = { rows = 7 }\n"})
    done = subprocess.run([sys.executable, "-m", "sf1630", "config", "show", "--config", str(path),
                           "--municipality", "aarhus"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = {line.split("#")[0].strip(): line.split("#", 1)[1].strip()
             for line in done.stdout.splitlines() if "=" in line and "#" in line and not line.startswith("#")}
    assert lines['cvr = "22222222"'] == "municipalities.csv:2"
    assert lines['recipients = ["AARHUS_LIS01_SIMPEL"]'] == "agent.toml:21 (inherited)"
    assert lines["rows = 7"] == "municipalities/aarhus.toml:3"
    assert lines['adapter = "synthetic"'] == "agent.toml:22 (inherited)"
    assert lines['path = "lis/aarhus.sqlite3"'] == "agent.toml:29 (inherited)"
    assert 'user = "AARHUS_LIS01_SIMPEL"' in done.stdout and "made from the pattern [accounts.LIS]" in done.stdout

    unknown = subprocess.run([sys.executable, "-m", "sf1630", "config", "show", "--config", str(path),
                              "--municipality", "odense"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode != 0 and "no municipality 'odense'" in unknown.stderr and "aarhus, herning" in unknown.stderr


def test_two_streams_that_would_name_their_files_alike_are_refused_with_both_places(site):
    problems = check_config(site(files={"herning": """\
        [[send]]
        source = "ky"
        recipient_code = "LIS02"
        account = "KY"
        recipients = ["HERNING_LIS02_SIMPEL"]

        [[send]]
        source = "ky"
        recipient_code = "LIS02"
        account = "KY"
        recipients = ["HERNING_LIS03_SIMPEL"]
        """}))
    [problem] = problems
    assert (problem.file.name, problem.line, problem.key) == ("herning.toml", 7, "send[1]")
    assert f"{problem.file.parent / 'herning.toml'}:1" in problem.message  # the other one
    assert "KY_LIS02_<authority_id>_<period>_<time>.csv" in problem.message and "recipient_code" in problem.message


def test_two_inherited_streams_alike_are_reported_once_at_the_agent_file(site):
    twice = SITE.replace('[defaults.receive]', '[[defaults.send]]\nsource = "ky"\naccount = "KY"\n'
                         'recipients = ["X_LIS"]\n\n[defaults.receive]')
    problems = check_config(site(agent=twice))
    [problem] = problems  # not once per municipality
    assert places(problems) == {("agent.toml", 24, "defaults.send[1]")}
    assert "agent.toml:18" in problem.message and "inherited by 'aarhus'" in problem.message


def test_csv_mistakes_are_reported_at_their_line(site):
    csv = ("key,name,cvr\naarhus,Aarhus Kommune,2222\nherning,Herning Kommune\n"
           "aarhus,Aarhus igen,44444444\n")
    problems = check_config(site(csv=csv))
    assert places(problems) >= {("municipalities.csv", 2, "cvr"), ("municipalities.csv", 3, ""),
                                ("municipalities.csv", 4, "key")}
    bad_header = check_config(site(csv="key,navn,cvr\naarhus,Aarhus,22222222\n"))
    assert any(p.line == 1 and "lacks name" in p.message for p in bad_header)


def test_a_placeholder_without_a_value_is_an_error_where_it_is_written(site):
    problems = check_config(site(csv="key,name,cvr\naarhus,Aarhus Kommune,22222222\n"))  # no lis_user column
    [problem] = problems
    assert (problem.file.name, problem.line, problem.key) == ("agent.toml", 21, "defaults.send[0].recipients")
    assert "no value for {lis_user}" in problem.message and "{cvr}" in problem.message


def test_connections_per_host_defaults_to_the_accounts_in_use_at_once(site):
    many = "key,name,cvr,lis_user\n" + "".join(f"m{i},M {i},{10000000 + i},M{i}_LIS\n" for i in range(12))
    cfg = load_config(site(csv=many))
    assert cfg.connections_per_host == 1 + 8  # the sending account, and `concurrency` receiving ones
    set_here = SITE.replace('environment = "test"', 'environment = "test"\nconnections_per_host = 3')
    assert load_config(site(agent=set_here, csv=many)).connections_per_host == 3


@pytest.mark.parametrize("kind", ["source", "lis"])
def test_init_writes_a_site_for_every_municipality_of_a_csv_list(run_cli, tmp_path, kind):
    listed = tmp_path / "list.csv"
    listed.write_text("key;name;cvr\naarhus;Aarhus Kommune;22222222\nherning;Herning Kommune;33333333\n")
    made = run_cli("init", "site", "--kind", kind, "--municipalities", str(listed))
    assert made.returncode == 0, made.stderr
    assert "2 municipalities in" in made.stdout and "municipalities.csv" in made.stdout
    checked = run_cli("config", "check", "--config", "site/agent.toml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok: 2 municipalities, 2 jobs")
    if kind == "lis":
        cfg = load_config(tmp_path / "site" / "agent.toml")
        assert cfg.accounts["LIS:herning"].user == "HERNING_LIS01_SIMPEL"

    listed.write_text("key;name;cvr\naarhus;Aarhus Kommune;2222\n")
    refused = run_cli("init", "other", "--kind", kind, "--municipalities", str(listed))
    assert refused.returncode == 1 and f"{listed}:2: cvr: '2222' is not a CVR number" in refused.stderr
    assert not (tmp_path / "other").exists()
