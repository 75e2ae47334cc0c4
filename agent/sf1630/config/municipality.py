"""One municipality file: ``[municipality]``, ``[[send]]`` tables (a source vendor), ``[receive]`` (a LIS).

Accounts are checked against the agent file's ``[accounts]``: a source vendor has one account per
source system shared by all municipalities, a LIS vendor one per municipality (PROTOCOL.md rule 1).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sf1630.core import cron
from sf1630.api import Municipality
from sf1630.config.model import (ExpectConfig, MunicipalityConfig, ReceiveConfig, RouteValues,
                                 SendConfig, SinkConfig)
from sf1630.config.patterns import fill, unknown_in, values_of
from sf1630.config.reader import TomlFile
from sf1630.config.tables import (ExpectTable, MunicipalityFile, MunicipalityTable, ReceiveTable, RouteTable,
                                  SendTable, SinkTable)

CVR = re.compile(r"\d{8}")
CVR_URN = "urn:oio:cvr-nr:"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAME_PART = re.compile(r"[A-Za-z0-9-]+")  # a part of a data file name: no "_" (the separator), no "/"
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
ROUTING_VALUE = "ROUTING_V1_0_0"


def read_municipality(f: TomlFile, accounts: Any) -> MunicipalityConfig | None:
    """Build a municipality's config from a loaded file, reporting every problem into ``f``.

    ``accounts`` holds the agent file's account names and makes a pattern account for this municipality.
    """
    data = f.data or {}
    f.check(MunicipalityFile, data, ())
    table = f.subtable(data, (), "municipality")  # required: reported by the check of MunicipalityFile
    if table is None:
        return None
    municipality = _municipality(f, table)
    values = values_of(municipality, getattr(f, "extra", {})) if municipality else None
    if values is not None:
        _fill(f, data, values)
    sends = [_send(f, t, i, municipality, accounts, values) for i, t in enumerate(f.tables(data, (), "send"))
             if _enabled(f, t, ("send", i))]
    receive_table = f.subtable(data, (), "receive")
    if receive_table is not None and not _enabled(f, receive_table, ("receive",)):
        receive_table = None
    receive = _receive(f, receive_table, accounts, values) if receive_table is not None else None
    if not sends and receive_table is None:
        f.report(("municipality",), None, "nothing to do: add [[send]] tables (a source vendor) or [receive] (a LIS)")
    if municipality is None:
        return None
    return MunicipalityConfig(municipality, f.path, [s for s in sends if s], receive,
                              merged=getattr(f, "merged", None), values=values or {})


def _fill(f: TomlFile, data: dict[str, Any], values: dict[str, str]) -> None:
    """Put the municipality's values into its placeholders; one without a value is an error, except
    inside ``options``, where a plugin may have placeholders of its own (``{source}``)."""
    for key in ("send", "receive"):
        if key not in data:
            continue
        for path, name in unknown_in(data[key], values, (key,), lambda p: "options" in p):
            f.report(path[:-1], str(path[-1]) if not isinstance(path[-1], int) else None,
                     f"no value for {{{name}}}; known: {', '.join('{' + v + '}' for v in sorted(values))}")
        data[key] = fill(data[key], values)


def _enabled(f: TomlFile, table: Any, where: tuple) -> bool:
    """``enabled = false`` leaves out a stream, sink or expectation this municipality would inherit."""
    return not isinstance(table, dict) or table.get("enabled") is not False  # its type: checked with the table


def _municipality(f: TomlFile, table: dict[str, Any]) -> Municipality | None:
    where = ("municipality",)
    values = f.check(MunicipalityTable, table, where, skip=("cvr",))
    key = values["key"] or f.path.stem
    if not KEY.fullmatch(key):
        f.report(where, "key", f"{key!r} is not a usable key; use letters, digits and '-', e.g. \"ikast-brande\"")
    name = values["name"]
    cvr = _cvr(f, table, where, "cvr", required=True)
    authority = values["authority_id"] or cvr
    if authority and not NAME_PART.fullmatch(authority):
        f.report(where, "authority_id", "goes into data file names: letters, digits and '-' only")
    if name is None or cvr is None or authority is None:
        return None
    return Municipality(key=key, name=name, authority_id=authority, cvr=cvr)


def _cvr(f: TomlFile, table: dict[str, Any], where: tuple, key: str, required: bool) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            f.report(where, key, 'missing; the municipality\'s CVR number, 8 digits as a string: cvr = "12345678"')
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not CVR.fullmatch(value.removeprefix(CVR_URN)):
        f.report(where, key, f'{value!r} is not a CVR number; write 8 digits as a string, e.g. "12345678"')
        return None
    return value.removeprefix(CVR_URN)


def _send(f: TomlFile, table: dict[str, Any], i: int, municipality: Municipality | None,
          accounts: Any, values: dict[str, str] | None) -> SendConfig | None:
    where = ("send", i)
    v = f.check(SendTable, table, where)
    source = v["source"]
    account = _account(f, table, where, accounts, values)
    route_table = f.subtable(table, where, "route")
    routing: Literal["simple", "dynamic"] = v["routing"] or ("dynamic" if route_table is not None else "simple")
    if routing not in ("simple", "dynamic"):
        f.report(where, "routing", f'{routing!r}: write "simple" (recipients named in the trigger) or "dynamic" (routes)')
        return None
    recipients = list(v["recipients"])
    _check_recipients(f, where, routing, recipients, table)
    code = v["recipient_code"]
    if not NAME_PART.fullmatch(code):
        f.report(where, "recipient_code", "goes into data file names: letters, digits and '-' only")
    schedule = _schedule(f, v["schedule"], where)
    cvr = municipality.cvr if municipality else "00000000"
    route = _route(f, route_table, (*where, "route"), cvr) if route_table is not None else None
    options = f.subtable(table, where, "options") or {}
    if source is None or account is None:
        return None
    file, line = f.place(where)
    return SendConfig(source=source.lower(), account=account, routing=routing, recipients=recipients,
                      recipient_code=code, schedule=schedule, route=route, file_type=v["file_type"],
                      options=options, line=line, index=i, file=file, base=f.base((*where, "options")))


def _check_recipients(f: TomlFile, where: tuple, routing: str, recipients: list[str],
                      table: dict[str, Any]) -> None:
    route_table = table.get("route")
    if routing == "simple":
        if route_table is not None:
            f.report(where, "route", 'route values are for dynamic routing; set routing = "dynamic" or remove [send.route]')
        if not recipients and table.get("recipients", []) == []:  # else its type was reported
            f.report(where, "recipients", 'simple routing needs recipients = ["..."]: the LIS SFTP users, '
                     'e.g. ["IKAST-BRANDE_LIS01_SIMPEL"]')
        if ROUTING_VALUE in recipients:
            f.report(where, "recipients", f'{ROUTING_VALUE} means dynamic routing; write routing = "dynamic" '
                     "and the route values in [send.route]")
    else:
        if recipients:
            f.report(where, "recipients", "not used with dynamic routing (the platform routes by [send.route]); remove it")
        if route_table is None:
            f.report(where, None, "dynamic routing needs [send.route] with sender_it_system (and recipient_authority)")


def _route(f: TomlFile, table: dict[str, Any], where: tuple, cvr: str) -> RouteValues | None:
    v = f.check(RouteTable, table, where, skip=("recipient_authority",))
    sender = _uuid(f, v["sender_it_system"], where, "sender_it_system")
    recipient = _uuid(f, v["recipient_it_system"], where, "recipient_it_system")
    authority = _cvr(f, table, where, "recipient_authority", required=False) if "recipient_authority" in table else cvr
    if sender is None or authority is None:
        return None
    return RouteValues(sender_it_system=sender, recipient_it_system=recipient,
                       recipient_authority_cvr=authority, inf_ref=v["inf_ref"])


def _uuid(f: TomlFile, value: str | None, where: tuple, key: str) -> str | None:
    if value is None:
        return None
    if UUID.fullmatch(value.lower()) and value != value.lower():
        f.report(where, key, f"{value!r}: write the UUID in lower-case hex (the platform compares it as text)")
        return None
    if not UUID.fullmatch(value):
        f.report(where, key, f"{value!r} is not a UUID; the UUID KOMBIT registered for the system, "
                 'e.g. "3f1c2a9e-0b6d-4c1e-9a57-2d8e4b6f0a11"')
        return None
    return value


def _schedule(f: TomlFile, value: str | None, where: tuple) -> str | None:
    if value is None:
        return None
    try:
        cron.parse(value)
    except ValueError as exc:
        f.report(where, "schedule", str(exc))
        return None
    return value


def _account(f: TomlFile, table: dict[str, Any], where: tuple, accounts: Any,
             values: dict[str, str] | None) -> str | None:
    name = table.get("account")  # its type and presence are checked with the table
    if not isinstance(name, str):
        return None
    if name not in accounts:
        known = ", ".join(sorted(accounts)) or "none"
        f.report(where, "account", f"unknown account {name!r}; add [accounts.{name}] to the agent file "
                 f"(it defines: {known})")
        return None
    if values is None or not hasattr(accounts, "use"):
        return name
    return accounts.use(name, values)  # a pattern account becomes this municipality's own


def _receive(f: TomlFile, table: dict[str, Any], accounts: Any, values: dict[str, str] | None) -> ReceiveConfig | None:
    where = ("receive",)
    v = f.check(ReceiveTable, table, where)
    account = _account(f, table, where, accounts, values)
    accepted = list(v["accept_authorities"])
    for value in accepted:
        if not NAME_PART.fullmatch(value):
            f.report(where, "accept_authorities", f"{value!r} is not an authority id as data file names carry it "
                     "(letters, digits and '-')")
    sink_tables = [(i, t) for i, t in enumerate(f.tables(table, where, "sinks")) if _enabled(f, t, (*where, "sinks", i))]
    if not sink_tables and "sinks" not in table:
        f.report(where, None, 'add at least one [[receive.sinks]] with type = "sqlite", "postgres" or "directory"')
    sinks = [_sink(f, t, (*where, "sinks", i)) for i, t in sink_tables]
    expect = [_expect(f, t, (*where, "expect", i)) for i, t in enumerate(f.tables(table, where, "expect"))
              if _enabled(f, t, (*where, "expect", i))]
    if account is None:
        return None
    file, line = f.place(where)
    return ReceiveConfig(account=account, sinks=[s for s in sinks if s], expected_senders=list(v["expected_senders"]),
                         expect=[e for e in expect if e], accept_authorities=accepted, line=line, file=file)


def _sink(f: TomlFile, table: dict[str, Any], where: tuple) -> SinkConfig | None:
    kind = f.check(SinkTable, table, where)["type"]
    options = f.subtable(table, where, "options") or {}
    file, line = f.place(where)
    return SinkConfig(type=kind, options=options, line=line, index=where[-1], file=file,
                      base=f.base((*where, "options"))) if kind else None


def _expect(f: TomlFile, table: dict[str, Any], where: tuple) -> ExpectConfig | None:
    v = f.check(ExpectTable, table, where, skip=("grace",))
    schedule = _schedule(f, v["schedule"], where)
    grace = parse_duration(f, table, where, "grace", 0.0)
    if v["source"] is None or schedule is None or grace is None:
        return None
    return ExpectConfig(source=v["source"].lower(), schedule=schedule, grace_seconds=grace, line=f.place(where)[1],
                        index=where[-1])


def parse_duration(f: TomlFile, table: dict[str, Any], where: tuple, key: str, default: float) -> float | None:
    """Seconds from a number or a string such as "90s", "30m", "6h", "2d"."""
    value = table.get(key, default)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = DURATION.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if not match:
        f.report(where, key, f'{value!r} is not a duration; write seconds (3600) or a string such as "30m", "6h", "2d"')
        return None
    return float(match.group(1)) * UNITS[match.group(2)]
