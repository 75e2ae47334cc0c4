"""Options tables from TOML: built into Options dataclasses, with errors that say what to fix."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sf1630.api import describe_options
from sf1630.errors import ConfigError
from sf1630.plugins import build_options, check_options, make_plugin_host
from sf1630_plugins.sinks import sqlite
from sf1630_plugins.sources import ky

ORIGIN = "municipalities/testby.toml:12 [send.options]"


def test_a_toml_table_builds_options_with_paths_resolved_against_the_config(tmp_path):
    table = tomllib.loads('adapter = "directory"\nfolder = "exports/{municipality}"\nsettle_seconds = 5\n')
    options = build_options(ky.Options, table, ORIGIN, base=tmp_path)
    assert options.adapter == "directory" and options.settle_seconds == 5.0
    assert options.folder == tmp_path / "exports" / "{municipality}" and options.rows == 300


def test_unknown_key_lists_the_valid_keys_and_the_likely_one():
    with pytest.raises(ConfigError) as caught:
        build_options(ky.Options, {"rowz": 5}, ORIGIN)
    message = str(caught.value)
    assert message.startswith(f"{ORIGIN}: unknown key 'rowz' (did you mean 'rows'?); valid keys: adapter, ")
    assert "sent_folder" in message


@pytest.mark.parametrize("table, expected", [
    ({"rows": "many"}, "key 'rows' must be an integer, not 'many' (string)"),
    ({"rows": True}, "key 'rows' must be an integer, not True (boolean)"),
    ({"adapter": "ftp"}, "key 'adapter' must be one of 'synthetic', 'sql', 'directory', not 'ftp' (string)"),
    ({"folder": 3}, "key 'folder' must be a path (string), not 3 (integer)"),
    ({"strict_header": "yes"}, "key 'strict_header' must be a boolean, not 'yes' (string)"),
    ({"rows": -1}, "rows must be 0 or more, not -1"),
])
def test_wrong_values_are_reported_with_where_and_what(table, expected):
    with pytest.raises(ConfigError, match="^" + re.escape(f"{ORIGIN}: {expected}")):
        build_options(ky.Options, table, ORIGIN)


def test_every_problem_is_reported_at_once():
    problems = check_options(sqlite.Options, {"path": 1, "schema": "loose", "colour": "red"})
    assert [key for key, _ in problems] == ["path", "schema", "colour"]


def test_every_builtin_option_is_described_with_type_default_and_help():
    host = make_plugin_host(entry_points=False)
    for thing in [*host.sources().values(), *host.sinks().values()]:
        for info in describe_options(thing.Options):
            assert info.help and info.type, (thing.name, info)
    described = {i.name: i for i in describe_options(sqlite.Options)}
    assert described["schema"].type == "'evolve' | 'strict'" and described["path"].default == Path("sf1630-lis.sqlite3")
