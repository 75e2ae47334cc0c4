"""An example sf1630 sink: each delivered extract becomes a JSON Lines file, one object per row.

Configure it in a municipality file::

    [[receive.sinks]]
    type = "jsonl"
    [receive.sinks.options]
    folder = "/srv/lis/jsonl"

A load writes ``<folder>/<FileTransferUUID>.jsonl`` through a temporary file and a rename, so
the file is either complete or absent: a failed load leaves nothing, and the file's existence is
what makes a second load of the same FileTransferUUID a duplicate.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import sf1630
from sf1630.api import API_VERSION, Delivery, LoadError, LoadResult

__version__ = "0.1.0"


@dataclass
class Options:
    """The ``[receive.sinks.options]`` table: every field has a default and help text."""

    folder: Path = sf1630.option(Path("jsonl"), "folder the .jsonl files are written to")


class JsonLinesSink:
    """Writes each delivery as JSON Lines."""

    name = "jsonl"  # the `type` in config
    api_version = API_VERSION  # the plugin API this sink is written for
    Options = Options

    def load(self, delivery: Delivery, path: Path, options: Options) -> LoadResult:
        folder = Path(options.folder)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / f"{delivery.file_transfer_uuid}.jsonl"
        if target.exists():
            return LoadResult(rows=0, table=str(target), duplicate=True)
        temporary = target.with_suffix(".part")
        try:
            rows = write_rows(path, temporary)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return LoadResult(rows=rows, table=str(target))


def write_rows(source: Path, target: Path) -> int:
    """Stream the ';' CSV at ``source`` into ``target`` as JSON Lines; returns the row count."""
    rows = 0
    with open(source, encoding="utf-8-sig", newline="") as f, \
            open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise LoadError(f"{source.name}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
            out.write(json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n")
            rows += 1
    return rows


@sf1630.hookimpl
def sf1630_register_sinks(register):
    """Tell the agent about the sink."""
    register(JsonLinesSink())
