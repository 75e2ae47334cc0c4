"""A probe plugin: a sink that counts rows, and an event hook that remembers deliveries."""

from dataclasses import dataclass

import sf1630
from sf1630.api import API_VERSION, LoadResult, option

__version__ = "1.2.3"
DELIVERED: list = []


@dataclass
class Options:
    label: str = option("probe", "a label")


class ProbeSink:
    name = "probe"
    api_version = API_VERSION
    Options = Options

    def load(self, delivery, path, options):
        with open(path, encoding="utf-8") as f:
            return LoadResult(rows=sum(1 for _ in f) - 1, table=options.label)


@sf1630.hookimpl
def sf1630_register_sinks(register):
    register(ProbeSink())


@sf1630.hookimpl
def sf1630_on_delivered(transfer):
    DELIVERED.append(transfer.file_name)
