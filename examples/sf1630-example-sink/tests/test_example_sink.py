"""Tests of the example sink: sf1630's conformance suite, and discovery through the entry point."""

from __future__ import annotations

import json

from sf1630.plugins import make_plugin_host
from sf1630.testing.conformance import SinkConformance, write_delivery

from sf1630_example_sink import JsonLinesSink


class TestJsonLinesSink(SinkConformance):
    sink = JsonLinesSink()

    def make_options(self, tmp_path):
        return JsonLinesSink.Options(folder=tmp_path / "out")

    def count_rows(self, options):
        return sum(1 for path in options.folder.glob("*.jsonl") for _ in path.open(encoding="utf-8"))


def test_rows_become_json_objects(tmp_path):
    delivery, path = write_delivery(tmp_path)
    options = JsonLinesSink.Options(folder=tmp_path / "out")
    JsonLinesSink().load(delivery, path, options)
    first = (tmp_path / "out" / f"{delivery.file_transfer_uuid}.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first) == {"id": "1", "name": "Åse Ærø", "amount": "10.50", "note": "plain"}


def test_the_agent_finds_the_installed_plugin():
    host = make_plugin_host()
    assert host.owner("sink", "jsonl") == "example-sink"
    assert [p.version for p in host.plugins() if p.name == "example-sink"] == ["0.1.0"]
