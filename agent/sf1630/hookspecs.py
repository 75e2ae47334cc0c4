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

from typing import TYPE_CHECKING, Any, Callable

import pluggy

from sf1630.api import API_VERSION

if TYPE_CHECKING:
    from sf1630.api import Check, Commands, Delivery, Expectation, LoadResult, SchemaChange, Sink, Source, Transfer

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
def sf1630_on_failed(transfer: Transfer, reason: str, codes: tuple[int, ...]) -> None:
    """A transfer failed: an error receipt came back, or a delivered file could not be loaded.

    Runs in the sender after an error receipt has been journalled (the data file is cleaned up),
    and in the receiver when a load fails and the local copy goes to quarantine.
    Gets the journalled ``transfer``, a one-line ``reason`` (error codes and texts; never row data)
    and the receipt's error ``codes`` in order (empty for a failed load).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_received(delivery: Delivery, transfer: Transfer) -> None:
    """A delivered file was fetched: its local copy is durable and journalled.

    Runs in the receiver after the download, before any sink loads it.
    Gets the ``delivery`` (FileTransferUUID, file name, sender, size, parsed metadata) and the
    journalled ``transfer``.
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


@_spec
def sf1630_on_receipt_overdue(transfer: Transfer, waited: float) -> None:
    """No technical receipt came within ``receipt_timeout``; the sender keeps waiting (issue #13).

    Runs in the sender once per transfer when the timeout passes. Gets the journalled ``transfer``
    and the seconds ``waited``. Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_stray(account: str, path: str, reason: str, removed: bool, sender: str | None) -> None:
    """A file on the server that the agent does not take: data without metadata, bad metadata, or a
    delivery from a sender not in ``expected_senders`` (issue #17).

    Runs in the receiver when it lists ``IN/``. Gets the ``account``, the remote ``path``, the
    ``reason``, whether it was ``removed``, and the unexpected ``sender`` (None for other strays).
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_on_unreachable(account: str, environment: str, since: float, reason: str) -> None:
    """An account has not reached the platform for longer than ``unreachable_alert_seconds``.

    Runs in ``sf1630 run`` once per outage of an account. Gets the ``account``, the ``environment``,
    when the outage began (Unix time ``since``) and how the last attempt failed (``reason``:
    refused, timed out, lost). Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_configure(config: Any, command: str) -> None:
    """The agent starts work with ``config``; set up what the plugin needs (a connection, a thread).

    Runs once per command that runs jobs (``send``, ``receive``, ``run``, ``demo``), after the
    configuration is loaded and before the first job. Gets the agent's ``config`` (its ``path``,
    ``environment``, ``accounts``, ``municipalities`` and the tables the agent keeps for plugins,
    such as ``alerts``) and the ``command`` that starts (the built-in alerts start only for ``run``). Returns nothing. A ``ConfigError`` (or any exception) stops the command with
    its message and the plugin's name: a plugin that cannot start must not fail quietly.
    """


@_spec
def sf1630_unconfigure() -> None:
    """The agent stops: finish and release what ``sf1630_configure`` set up (send what is queued).

    Runs once when the command's work is over, also after an error or SIGTERM. Gets nothing.
    Returns nothing; an exception is logged and ignored.
    """


@_spec
def sf1630_doctor(config: Any, send_test: bool) -> list[Check]:
    """Check what the plugin needs, for ``sf1630 doctor``.

    Runs once per ``sf1630 doctor``, after the configuration check. Gets the agent's ``config`` and
    ``send_test`` (``doctor --test-alert``: the plugin may send one test message through each channel).
    Returns a list of ``sf1630.api.Check`` (level ok, warn or error, a message and a fix); an
    exception is reported as an error finding of the plugin.
    """
    raise NotImplementedError  # a specification: pluggy runs the plugins' implementations, never this
