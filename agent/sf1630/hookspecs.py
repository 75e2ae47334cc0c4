"""The sf1630 plugin API: every hook a plugin may implement, and API_VERSION.

This is the only module that declares hooks. Plugins import the implementation marker as
``sf1630.hookimpl``; the spec marker stays private here. Every hook name starts with ``sf1630_``.

Rules for the API (STYLE.md):
- Sources and sinks are objects registered through ``sf1630_register_*``; their behaviour lives on
  the object, never in fan-out hooks.
- Events (``sf1630_on_*``) reach every plugin. Return values are ignored; an exception is logged
  and never stops a transfer or the other plugins.
- The API grows by adding hooks and arguments. Pluggy passes each implementation only the
  arguments it names, so existing plugins keep working. Renaming or removing bumps API_VERSION.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

from sf1630.api import API_VERSION

if TYPE_CHECKING:
    from sf1630.api import Commands, Delivery, Expectation, LoadResult, SchemaChange, Sink, Source, Transfer

__all__ = ["API_VERSION", "PROJECT", "hookimpl"]

PROJECT = "sf1630"

_spec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@_spec
def sf1630_register_sources(register: Callable[[Source], None]) -> None:
    """Register the sources this plugin provides.

    Runs once per plugin while the plugin host is built, before any job runs.
    Gets ``register``: call it once per Source object (see ``sf1630.api.Source``).
    Returns nothing. An exception, an object without ``api_version`` equal to API_VERSION, or a
    name another plugin registered first marks this plugin failed: its sources are unavailable and
    only the jobs that name them are disabled.
    """


@_spec
def sf1630_register_sinks(register: Callable[[Sink], None]) -> None:
    """Register the sinks this plugin provides.

    Runs once per plugin while the plugin host is built, before anything is loaded.
    Gets ``register``: call it once per Sink object (see ``sf1630.api.Sink``).
    Returns nothing. Failures are handled as for ``sf1630_register_sources``.
    """


@_spec
def sf1630_register_commands(subparsers: Commands) -> None:
    """Add sub-commands to the ``sf1630`` command line.

    Runs once per plugin when the command line is built.
    Gets ``subparsers``, a ``sf1630.api.Commands``: call ``subparsers.add_parser(name, help=...)``,
    which returns an ``argparse.ArgumentParser``, and set ``func`` (a callable taking the parsed
    arguments, returning the exit status) with ``set_defaults(func=...)``. A name that is taken
    raises PluginError.
    Returns nothing. An exception is logged and the plugin's commands are left out.
    """


@_spec
def sf1630_on_delivered(transfer: Transfer) -> None:
    """An extract was delivered: the platform answered with a SUCCESS receipt.

    Runs in the sender after the transfer is journalled as delivered, once per data file.
    Gets the journalled ``transfer`` (file name, account, municipality, source, UUID, size, rows).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_failed(transfer: Transfer, reason: str) -> None:
    """A transfer failed: an error receipt came back, or a delivered file could not be loaded.

    Runs in the sender after an error receipt has been journalled (the data file is cleaned up),
    and in the receiver when a load fails and the local copy goes to quarantine.
    Gets the journalled ``transfer`` and a one-line ``reason`` (error codes and texts; never row data).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_received(delivery: Delivery) -> None:
    """A delivered file was fetched: its local copy is durable and journalled.

    Runs in the receiver after the download, before any sink loads it.
    Gets the ``delivery`` (FileTransferUUID, file name, sender, size, parsed metadata).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_loaded(delivery: Delivery, sink: str, result: LoadResult) -> None:
    """A sink loaded a delivered file (or found it loaded before).

    Runs in the receiver after each configured sink's transaction has committed.
    Gets the ``delivery``, the ``sink`` type name (e.g. "sqlite") and its ``result``
    (rows, table, ``duplicate`` when the FileTransferUUID was loaded before).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_retention_warning(account: str, path: str, age_days: float) -> None:
    """A file of the agent's own has lain on the platform longer than ``warn_days``.

    Runs when the agent lists its own ``OUT/`` and ``IN/`` folders (PROTOCOL rule 8); the
    platform deletes such files after 30 days. Gets the ``account`` name, the remote ``path``
    and its age in days. Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_schema_changed(delivery: Delivery, sink: str, changes: tuple[SchemaChange, ...]) -> None:
    """A sink changed a table because a source's columns changed (issue #14).

    Runs in the receiver after the load that made the changes has committed.
    Gets the ``delivery``, the ``sink`` type name and the ``changes`` (column added, missing,
    or widened to text). Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_missing(expectation: Expectation, cleared: bool) -> None:
    """An expected extract did not arrive by its deadline, or it came after all (issue #14).

    Runs at a receiving agent that declares ``[[receive.expect]]``: once when a deadline (schedule
    plus grace) passes with no delivery of that source for that municipality (``cleared`` False),
    and once more when a delivery then arrives (``cleared`` True, ``expectation.arrived_file`` set).
    Each is journalled first, so neither repeats after a restart.
    Gets the ``expectation`` (municipality, source, schedule, grace, deadline) and ``cleared``.
    Returns nothing; an exception is logged and ignored.
    """
