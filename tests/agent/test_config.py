"""Config loading and checking: every problem with file, line and key; environments; relative paths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from sf1630.config import check_config, load_config
from sf1630.errors import ConfigError

from .conftest import AARHUS, AGENT, IKAST

REPO = Path(__file__).resolve().parents[2]


def where(problems) -> set[tuple[str, int | None, str]]:
    return {(p.file.name, p.line, p.key) for p in problems}


def test_a_valid_config_loads_with_paths_relative_to_its_files(make_config) -> None:
    path = make_config()
    root = path.parent
    cfg = load_config(path)
    assert cfg.journal == root / "state" / "journal.sqlite" and cfg.spool == root / "state" / "spool"
    assert cfg.environment.name == "test" and cfg.environment.known_hosts == root / "keys" / "known_hosts"
    ky = cfg.accounts["KY"]
    assert ky.keys == (root / "keys" / "ky_ed25519", root / "keys" / "ky_ed25519.new")  # a rollover: two keys
    assert ky.passphrase_env == "SF1630_KY_PASSPHRASE" and ky.environment == "test"
    assert cfg.accounts["AULA"].environment == "production"
    assert [m.municipality.key for m in cfg.municipalities] == ["aarhus", "ikast-brande"]
    ikast = cfg.municipality("ikast-brande")
    simple, dynamic = ikast.sends
    assert (simple.source, simple.routing, simple.recipients, simple.schedule, simple.options) == \
        ("ky", "simple", ["IKAST-BRANDE_LIS01_SIMPEL"], "0 2 1 * *", {"adapter": "synthetic"})
    assert dynamic.routing == "dynamic" and dynamic.route.recipient_authority_cvr == "11111111"
    assert dynamic.route.inf_ref == "KommunalLedelseInformationOverfør_1" and simple.file_type
    receive = cfg.municipality("aarhus").receive
    assert receive.account == "lis-aarhus" and [s.type for s in receive.sinks] == ["sqlite"]
    assert receive.expect[0].grace_seconds == 6 * 3600
    assert cfg.jobs() == 3


def test_accounts_give_transport_endpoint_and_credentials(make_config) -> None:
    pytest.importorskip("sf1630.transport.sftp")
    cfg = load_config(make_config())
    endpoint = cfg.accounts["KY"].endpoint(cfg)
    assert (endpoint.host, endpoint.port, endpoint.known_hosts) == ("127.0.0.1", 2222, cfg.environment.known_hosts)
    assert cfg.accounts["AULA"].endpoint(cfg).host == "sftp.platform.invalid"
    creds = cfg.accounts["KY"].credentials()
    assert creds.user == "KY_SFTPSIMPEL" and len(creds.keys) == 2 and creds.passphrase_env == "SF1630_KY_PASSPHRASE"


def test_the_environment_comes_from_env_then_variable_then_file(make_config, monkeypatch) -> None:
    path = make_config()
    assert load_config(path).environment.name == "test"
    monkeypatch.setenv("SF1630_ENV", "production")
    assert load_config(path).environment.host == "sftp.platform.invalid"
    assert load_config(path, env="test").environment.name == "test"
    with pytest.raises(ConfigError) as info:
        load_config(path, env="staging")
    assert "agent.toml:4: agent.environment: no environment 'staging' (from --env); the file defines: " \
           "production, test" in str(info.value)


def test_a_single_environment_needs_no_choice(make_config) -> None:
    agent = AGENT.replace('environment = "test"\n', "").split("[environments.production]")[0] + \
        AGENT.split('known_hosts = "/etc/sf1630/known_hosts"\n')[1].replace('environment = "production"\n', "")
    cfg = load_config(make_config(agent))
    assert cfg.environment.name == "test" and cfg.accounts["AULA"].environment == "test"


BAD_AGENT = """\
[agent]
environment = "test"
concurency = 4
warn_days = 40

[environments.test]
host = "127.0.0.1"
port = 70000
known_hosts = "kh"

[accounts.KY]
user = "KY_SFTPSIMPEL"
keys = ["k"]
passphrase = "hunter2"

[accounts.LIS]
user = "LIS_USER"
key = "k"
"""

BAD_MUNICIPALITY = """\
[municipality]
key = "bad"
name = "Bad Kommune"
cvr = "1234"

[[send]]
source = "ky"
account = "NOPE"
recipients = ["BAD_LIS01_SIMPEL"]
[[send]]
source = "ky"
account = "KY"
schedule = "0 25 * * *"

[[send]]
source = "aula"
account = "KY"
routing = "dynamic"
[send.route]
sender_it_system = "3F1C2A9E-0B6D-4C1E-9A57-2D8E4B6F0A11"
recipient_authority = "urn:oio:cvr-nr:123"
[send.options]
url = "postgresql://lis:secret@db/lis"
"""


def test_every_problem_is_reported_with_file_line_and_key(make_config) -> None:
    path = make_config(BAD_AGENT, {"bad": BAD_MUNICIPALITY})
    problems = check_config(path)
    assert where(problems) == {
        ("agent.toml", 3, "agent.concurency"),
        ("agent.toml", 4, "agent.warn_days"),
        ("agent.toml", 8, "environments.test.port"),
        ("agent.toml", 14, "accounts.KY.passphrase"),
        ("agent.toml", 18, "accounts.LIS.key"),
        ("bad.toml", 4, "municipality.cvr"),
        ("bad.toml", 8, "send[0].account"),
        ("bad.toml", 10, "send[1].recipients"),
        ("bad.toml", 13, "send[1].schedule"),
        ("bad.toml", 20, "send[2].route.sender_it_system"),
        ("bad.toml", 21, "send[2].route.recipient_authority"),
        ("bad.toml", 23, "send[2].options.url"),
    }
    text = "\n".join(map(str, problems))
    assert f"{path.parent}/municipalities/bad.toml:8: send[0].account: unknown account 'NOPE'" in text
    assert "add [accounts.NOPE] to the agent file (it defines: KY, LIS)" in text
    assert 'bad.toml:4: municipality.cvr: \'1234\' is not a CVR number; write 8 digits as a string' in text
    assert "simple routing needs recipients" in text and "hour value 25 is outside 0-23" in text
    assert "lower-case hex" in text
    assert "agent.concurency: unknown key 'concurency' (did you mean 'concurrency'?)" in text
    assert 'write keys = ["k"]' in text
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "12 problem(s)" in str(info.value) and len(info.value.problems) == 12


def test_secrets_in_the_config_say_where_they_belong(make_config) -> None:
    lis = AARHUS.replace('type = "sqlite"', 'type = "postgres"\n[receive.sinks.options]\npassword = "x"')
    problems = check_config(make_config(AGENT.replace('passphrase_env = "SF1630_KY_PASSPHRASE"', 'passphrase = "x"'),
                                        {"aarhus": lis}))
    assert where(problems) == {("agent.toml", 20, "accounts.KY.passphrase"),
                               ("aarhus.toml", 13, "receive.sinks[0].options.password")}
    assert all("secrets never go in a config file" in p.message and "passphrase_env" in p.message for p in problems)
    assert "hunter" not in "".join(map(str, problems))


def test_broken_toml_gives_tomllib_line_and_other_files_are_still_checked(make_config) -> None:
    broken = '[municipality]\nkey = "x"\nname = "unterminated\ncvr = "11111111"\n'
    other = IKAST.replace('account = "KY"', 'account = "KX"')
    problems = check_config(make_config(municipalities={"a-broken": broken, "b-other": other}))
    assert where(problems) == {("a-broken.toml", 3, ""), ("b-other.toml", 8, "send[0].account")}
    assert "TOML syntax error" in problems[0].message
    agent_problems = check_config(make_config("[agent\n", folder="site2"))
    assert [(p.file.name, p.line) for p in agent_problems] == [("agent.toml", 1)]


@pytest.mark.parametrize("send, key, message", [
    ('source = "aula"\naccount = "KY"\nrouting = "dynamic"\n', "send[0]", "dynamic routing needs [send.route]"),
    ('source = "ky"\naccount = "KY"\nrecipients = []\n', "send[0].recipients", "simple routing needs recipients"),
    ('source = "ky"\naccount = "KY"\nrecipients = ["ROUTING_V1_0_0"]\n', "send[0].recipients",
     'write routing = "dynamic"'),
    ('source = "ky"\naccount = "KY"\nrouting = "dynamic"\nrecipients = ["X"]\n'
     '[send.route]\nsender_it_system = "3f1c2a9e-0b6d-4c1e-9a57-2d8e4b6f0a11"\n', "send[0].recipients",
     "not used with dynamic routing"),
    ('source = "ky"\naccount = "KY"\nrouting = "direct"\n', "send[0].routing", 'write "simple"'),
    ('source = "ky"\naccount = "KY"\nrouting = "dynamic"\n[send.route]\nsender_it_system = "nope"\n',
     "send[0].route.sender_it_system", "is not a UUID"),
])
def test_routing_problems(make_config, send: str, key: str, message: str) -> None:
    town = '[municipality]\nname = "X Kommune"\ncvr = "12345678"\n\n[[send]]\n' + send
    problems = check_config(make_config(municipalities={"x": town}))
    assert [p.key for p in problems] == [key] and message in problems[0].message
    assert problems[0].line is not None and problems[0].line >= 5


def test_municipality_keys_are_unique_and_a_lis_account_serves_one_municipality(make_config) -> None:
    twin = AARHUS.replace('key = "aarhus"', 'key = "aarhus2"')
    same_key = IKAST.replace('name = "Ikast-Brande Kommune"', 'name = "Other"')
    problems = check_config(make_config(municipalities={"aarhus": AARHUS, "aarhus2": twin, "ikast-brande": IKAST,
                                                         "z-copy": same_key}))
    assert where(problems) == {("aarhus2.toml", 7, "receive.account"), ("z-copy.toml", 2, "municipality.key")}
    assert "PROTOCOL.md rule 1" in "".join(map(str, problems))


def test_no_municipality_files_is_a_problem(make_config) -> None:
    problems = check_config(make_config(municipalities={}))
    assert where(problems) == {("agent.toml", 1, "agent.municipalities")}


def test_a_municipality_file_named_in_the_list_must_exist(make_config, run_cli) -> None:
    agent = AGENT.replace("[agent]\n", '[agent]\nmunicipalities = ["municipalities/aarhus.toml",\n'
                                       '                  "municipalities/odense.toml"]\n')
    path = make_config(agent)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"agent.toml:2: agent.municipalities: no municipality file 'municipalities/odense.toml' (relative " \
           f"to {path.parent}); a name without * ? or [ must exist" in str(info.value)
    checked = run_cli("config", "check", "--no-plugins", "--config", str(path))
    assert checked.returncode == 1 and "agent.toml:2: agent.municipalities: no municipality file" in checked.stdout
    assert "ok:" not in checked.stdout


def test_a_glob_that_matches_nothing_is_a_warning_of_config_check(make_config, run_cli) -> None:
    path = make_config(AGENT.replace("[agent]\n", '[agent]\nmunicipalities = ["municipalities/*.toml", "extra/*.toml"]\n'))
    assert len(load_config(path).municipalities) == 2
    checked = run_cli("config", "check", "--no-plugins", "--config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[:2] == [
        f"warning: {path}:2: agent.municipalities: 'extra/*.toml' matches no file (relative to {path.parent}); "
        "no municipality is read from it",
        "ok: 2 municipalities, 3 jobs, 3 accounts, connections_per_host 4, environment test (plugin options not checked)"]


def test_the_shipped_examples_are_valid(monkeypatch) -> None:
    monkeypatch.setenv("SF1630_KY_DATABASE_URL", "postgresql://ky_reader@db.example/ky")  # as the service sets it
    for kind in ("source-vendor", "lis-vendor"):
        path = REPO / "conf" / kind / "agent.toml"
        cfg = load_config(path)
        assert len(cfg.municipalities) == 2
        if _builtins_load():  # each source's and sink's options too
            from sf1630.config import make_host_for

            assert check_config(path, make_host_for(path)) == []


def test_an_unset_url_env_variable_is_a_config_problem_naming_it(monkeypatch) -> None:
    if not _builtins_load():
        pytest.skip("the built-in plugins do not load here")
    from sf1630.config import make_host_for

    monkeypatch.delenv("SF1630_KY_DATABASE_URL", raising=False)
    path = REPO / "conf" / "source-vendor" / "agent.toml"
    [problem] = check_config(path, make_host_for(path))
    assert problem.file.name == "aarhus.toml" and problem.key == "send[0].options"
    assert "SF1630_KY_DATABASE_URL named by url_env is not set or is empty" in problem.message


def test_config_check_command(make_config, run_cli) -> None:
    bad = run_cli("config", "check", "--no-plugins", "--config", str(make_config(BAD_AGENT, {"bad": BAD_MUNICIPALITY})))
    assert bad.returncode == 1
    assert "bad.toml:4: municipality.cvr:" in bad.stdout and "agent.toml:14: accounts.KY.passphrase:" in bad.stdout
    assert "12 problem(s)" in bad.stderr
    good = run_cli("config", "check", "--no-plugins", "--config", str(make_config(folder="good")))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("ok: 2 municipalities, 3 jobs")


def _builtins_load() -> bool:
    try:
        from sf1630.plugins import make_plugin_host
    except ImportError:
        return False
    return not make_plugin_host(entry_points=False).failures()


@pytest.mark.parametrize("kind", ["source", "lis"])
def test_init_writes_a_config_that_config_check_accepts(run_cli, tmp_path: Path, kind: str) -> None:
    made = run_cli("init", "site", "--kind", kind, "--municipality", "ikast-brande", "--cvr", "29189498")
    assert made.returncode == 0, made.stderr
    agent = tmp_path / "site" / "agent.toml"
    assert agent.read_text().startswith("# sf1630 agent file") and (tmp_path / "site" / "keys").stat().st_mode & 0o77 == 0
    town = (tmp_path / "site" / "municipalities" / "ikast-brande.toml").read_text()
    assert 'cvr = "29189498"' in town and "# cvr: the municipality's CVR number" in town
    plugins = [] if _builtins_load() else ["--no-plugins"]
    checked = run_cli("config", "check", *plugins, "--config", str(agent))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok: 1 municipalities, 1 jobs")
    again = run_cli("init", "site", "--kind", kind, "--municipality", "ikast-brande")
    assert again.returncode == 1 and "pass --force" in again.stderr
    assert f"agent.toml and {Path('municipalities', 'ikast-brande.toml')} exist already; nothing was written" \
        in again.stderr


def test_init_says_a_single_file_exists_already_and_what_to_do(run_cli, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "agent.toml").write_text("# the vendor's own\n")
    done = run_cli("init", "site")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"sf1630: error: site: agent.toml exists already; nothing was written. Check the existing config with "
        f"`sf1630 config check --config {Path('site', 'agent.toml')}`, choose another DIR, or pass --force to "
        "overwrite it")
    assert (tmp_path / "site" / "agent.toml").read_text() == "# the vendor's own\n"
    assert not (tmp_path / "site" / "municipalities").exists()


# -- plugin options, checked through a real plugin host ------------------------------------------------


@dataclass
class TinyOptions:
    rows: int = 10
    folder: str = "out"


class TinySource:
    name, code, routing, schedule, api_version, Options = "tiny", "TINY", "simple", "0 2 1 * *", 1, TinyOptions

    def period(self, when: datetime) -> str:
        return f"M{when.month:02d}"

    def file_name(self, job: Any) -> str:
        return "x.csv"

    def write_extract(self, job: Any, out: BinaryIO) -> Any:
        raise NotImplementedError

    def delivered(self, job: Any) -> None:
        pass


def test_plugin_names_and_options_are_checked_against_the_host(make_config) -> None:
    plugins = pytest.importorskip("sf1630.plugins")
    from sf1630 import hookimpl

    class TinyPlugin:
        @hookimpl
        def sf1630_register_sources(self, register):
            register(TinySource())

    host = plugins.make_plugin_host(builtins=False, entry_points=False)
    assert host.add(TinyPlugin(), "tiny-plugin", "test")
    town = ('[municipality]\nname = "X Kommune"\ncvr = "12345678"\n\n[[send]]\nsource = "tiny"\naccount = "KY"\n'
            'recipients = ["X_LIS"]\n\n[send.options]\nrowz = 5\nfolder = 3\n\n[[send]]\nsource = "nosuch"\n'
            'account = "KY"\nrecipients = ["X_LIS"]\n\n[receive]\naccount = "lis-aarhus"\n[[receive.sinks]]\n'
            'type = "sqlite"\n')
    problems = check_config(make_config(municipalities={"x": town}), host)
    assert where(problems) == {("x.toml", 11, "send[0].options.rowz"), ("x.toml", 12, "send[0].options.folder"),
                               ("x.toml", 15, "send[1].source"), ("x.toml", 22, "receive.sinks[0].type")}
    text = "\n".join(map(str, problems))
    assert "did you mean 'rows'" in text and "no source plugin named 'nosuch'; registered: tiny" in text
    assert "no sink plugin named 'sqlite'" in text


def test_line_finder_skips_multiline_values_and_reads_quoted_and_dotted_keys() -> None:
    from sf1630.config.locate import SourceMap

    text = '''\
[agent]
plugin_paths = [
  "a", # [fake] header = 1
  "b",
]
note = """
[not.a.table]
journal = "x"
"""
"odd key" = 1
site.name = "x"
inline = { a = 1, b = [1,
  2] }
[[send]]
source = "ky"
[[send]]
source = 'x"y'
[send.route]
sender_it_system = "u"
[ "quoted" . table ]
key = 1
'''
    smap = SourceMap(text)
    assert smap.line(("agent",), "plugin_paths") == 2
    assert smap.line(("agent",), "note") == 6
    assert smap.line(("not", "a"), "table") == 1 and ("not", "a", "table") not in smap.tables
    assert smap.line(("agent",), "journal") == 1  # only inside a string: the [agent] header is the answer
    assert smap.line(("agent",), "odd key") == 10
    assert smap.line(("agent", "site"), "name") == 11
    assert smap.line(("agent", "inline"), "b") == 12
    assert smap.line(("send", 0), "source") == 15
    assert smap.line(("send", 1), "source") == 17
    assert smap.line(("send", 1, "route"), "sender_it_system") == 19
    assert smap.line(("send", 1, "route"), "missing") == 18
    assert smap.line(("quoted", "table"), "key") == 21


def test_the_journal_is_a_path_or_a_url_from_the_file_or_an_environment_variable(make_config, monkeypatch) -> None:
    from sf1630.config.load import load_config

    url = "postgresql://sf1630@db.example:5432/site"
    cfg = load_config(make_config(AGENT.replace('journal = "state/journal.sqlite"', f'journal = "{url}"')))
    assert cfg.journal == url
    monkeypatch.setenv("SITE_JOURNAL", url)
    cfg = load_config(make_config(AGENT.replace('journal = "state/journal.sqlite"', 'journal_env = "SITE_JOURNAL"')))
    assert cfg.journal == url
    assert load_config(make_config()).journal == make_config().parent / "state" / "journal.sqlite"


def test_an_unset_journal_variable_is_a_problem_never_a_default(make_config, monkeypatch) -> None:
    from sf1630.config.load import read_config

    monkeypatch.delenv("SITE_JOURNAL", raising=False)
    agent = AGENT.replace('journal = "state/journal.sqlite"', 'journal_env = "SITE_JOURNAL"')
    problems = [str(p) for p in read_config(make_config(agent)).problems]
    assert len(problems) == 1 and "the environment variable SITE_JOURNAL is not set (or empty)" in problems[0]
    assert "agent.journal_env" in problems[0]
    monkeypatch.setenv("SITE_JOURNAL", "/var/lib/sf1630/journal.sqlite")
    problems = [str(p) for p in read_config(make_config(agent)).problems]
    assert len(problems) == 1 and "must hold a postgresql:// URL" in problems[0]
    both = AGENT.replace('journal = "state/journal.sqlite"', 'journal = "j.sqlite"\njournal_env = "SITE_JOURNAL"')
    monkeypatch.setenv("SITE_JOURNAL", "postgresql://db.example/site")
    assert [p.message for p in read_config(make_config(both)).problems] == ["give journal or journal_env, not both"]
