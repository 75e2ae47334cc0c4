"""Alerts: real sends and receives against the simulator, e-mail to a local SMTP server, JSON to a local webhook."""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sf1630.errors import ConfigError
from sf1630_plugins.alerts.dispatch import Dispatcher

from .conftest import HERNING, IKAST, KY, in_process
from .smtp import SmtpServer


def add_alerts(agent_toml: Path, table: dict[str, Any], **agent: Any) -> None:
    doc = tomllib.loads(agent_toml.read_text())
    doc["alerts"] = table
    doc["agent"].update(agent)
    agent_toml.write_text(tomli_w.dumps(doc))


def unknown_recipient(agent_toml: Path, municipality: str = IKAST.key) -> None:
    """Make one send fail: the platform answers 400 for a recipient it does not know."""
    path = agent_toml.parent / "municipalities" / f"{municipality}.toml"
    doc = tomllib.loads(path.read_text())
    doc["send"][0]["recipients"] = ["NOBODY_LIS01_SIMPEL"]
    path.write_text(tomli_w.dumps(doc))


def email_table(smtp: SmtpServer, **more: Any) -> dict[str, Any]:
    return {"email": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "sender": "sf1630@vendor.example",
                      "recipients": ["ops@vendor.example", "oncall@vendor.example"], **more}}


def run_round(agent_toml: Path, kind: str = "send", *, during=None, host=None) -> list:
    """One send or receive round in-process with the config's alerts on, as ``sf1630 run`` has them."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import make_receiver, receive_round, send_round
    from sf1630.agent.runtime import Selection, build_runtime

    cfg = load_config(agent_toml)

    async def go():
        rt = build_runtime(cfg, command="run", host=host)  # the alerts plugin starts as in the service
        side = asyncio.create_task(asyncio.to_thread(during)) if during else None
        try:
            if kind == "send":
                return (await send_round(rt, Selection(), asyncio.Event())).transfers
            return await receive_round(rt, make_receiver(rt, asyncio.Event()), Selection())
        finally:
            if side:
                await side
            await rt.aclose()

    return asyncio.run(go())  # closing the runtime sends what the alerts plugin has queued


def test_a_failed_delivery_is_mailed_with_names_and_codes_only(platform, smtp) -> None:
    sender = platform.sandbox.write_agent("source", receive=False, rows=5, agent={"receipt_timeout": 30})
    unknown_recipient(sender)
    add_alerts(sender, email_table(smtp))

    transfers = run_round(sender)

    failed = next(t for t in transfers if t.state == "cleaned")
    [mail] = smtp.wait_for(1)
    msg = mail.message
    assert mail.recipients == ["ops@vendor.example", "oncall@vendor.example"]
    assert msg["Subject"].strip() == f"[sf1630] delivery of {failed.file_name} failed"
    assert msg["X-Sf1630-Event"] == "delivery_failed"
    body = msg.get_content()
    assert failed.file_name in body and failed.file_transfer_uuid in body and "ikast-brande" in body
    assert "400 A recipient is not a known SFTP user" in body
    assert "NOBODY_LIS01_SIMPEL" not in body  # the receipt's free text is left out, only its code


def test_off_by_default_and_enabled_false_sends_nothing(platform, smtp) -> None:
    sender = platform.sandbox.write_agent("source", receive=False, rows=5, agent={"receipt_timeout": 30})
    unknown_recipient(sender)
    run_round(sender)
    add_alerts(sender, email_table(smtp, enabled=False))
    run_round(sender)
    assert smtp.messages == []


def test_webhook_gets_failure_and_retention_warning_once_with_a_bearer_token(platform, webhook, monkeypatch) -> None:
    monkeypatch.setenv("SF1630_TEST_HOOK_TOKEN", "t0ken")
    sender = platform.sandbox.write_agent("source", receive=False, rows=5, municipalities=(IKAST,),
                                          agent={"receipt_timeout": 30, "warn_days": 20})
    unknown_recipient(sender)
    add_alerts(sender, {"webhook": {"url": webhook.url, "token_env": "SF1630_TEST_HOOK_TOKEN"}})
    old = platform.server.root / KY.user / "OUT" / "KY_LIS_11111111_M01_20200101000000.csv"
    old.write_text("x")
    os.utime(old, (old.stat().st_mtime - 25 * 86400,) * 2)

    run_round(sender)
    bodies = webhook.wait_for(2)

    by_event = {b["event"]: b for b in bodies}
    assert set(by_event) == {"delivery_failed", "retention_warning"}
    warning = by_event["retention_warning"]
    assert warning["facts"]["account"] == "KY" and warning["facts"]["path"] == f"OUT/{old.name}"
    assert 24.9 < warning["facts"]["age_days"] < 25.1
    assert warning["summary"].startswith(f"OUT/{old.name} of account KY is 25 days old")
    assert warning["text"].startswith("sf1630 on ")
    assert by_event["delivery_failed"]["facts"]["errors"] == "400 A recipient is not a known SFTP user"
    assert all(h["Authorization"] == "Bearer t0ken" for h in webhook.headers)


def test_the_same_alert_is_not_repeated_within_repeat_hours(webhook) -> None:
    from sf1630_plugins.alerts.message import retention_warning
    from sf1630_plugins.alerts.webhook import WebhookChannel, WebhookOptions

    now = [0.0]
    dispatcher = Dispatcher([WebhookChannel(WebhookOptions(url=webhook.url))], repeat_hours=1,
                                   clock=lambda: now[0])
    try:
        assert dispatcher.submit(retention_warning("KY", "OUT/a.csv", 21))
        assert not dispatcher.submit(retention_warning("KY", "OUT/a.csv", 21.01))
        assert dispatcher.submit(retention_warning("KY", "OUT/b.csv", 21))
        now[0] = 3601
        assert dispatcher.submit(retention_warning("KY", "OUT/a.csv", 22))
        assert dispatcher.flush(10)
    finally:
        dispatcher.close()
    assert [b["facts"]["path"] for b in webhook.bodies] == ["OUT/a.csv", "OUT/b.csv", "OUT/a.csv"]


def test_a_missing_receipt_is_mailed_while_the_sender_keeps_waiting(platform, smtp) -> None:
    sender = platform.sandbox.write_agent("source", receive=False, rows=5, municipalities=(HERNING,),
                                          agent={"receipt_timeout": 1})
    add_alerts(sender, {**email_table(smtp), "events": ["receipt_overdue"]})
    platform.server.hold()

    def release_after_alert() -> None:
        try:
            smtp.wait_for(1, timeout=20)
        finally:
            platform.server.release()

    [t] = run_round(sender, during=release_after_alert)

    assert t.state == "delivered"  # the overdue receipt came after all
    [mail] = smtp.messages
    assert mail.message["Subject"].strip().startswith(f"[sf1630] no receipt for {t.file_name} after 1 s")
    assert "waited_seconds" in mail.message.get_content()


def test_a_load_failure_alert_never_quotes_the_file(platform, smtp, tmp_path) -> None:
    from sf1630.plugins import make_plugin_host

    sender = platform.sandbox.write_agent("source", receive=False, rows=5, municipalities=(HERNING,),
                                          agent={"receipt_timeout": 30})
    [sent] = run_round(sender)
    platform.wait_idle()
    lis = platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,), sinks=[{"type": "quoting"}])
    add_alerts(lis, email_table(smtp, subject_prefix=""))
    host = make_plugin_host()
    host.add(QuotingSinkPlugin(), "quoting", "test")

    [report] = run_round(lis, "receive", host=host)

    assert [t.file_name for t in report.quarantined] == [sent.file_name]
    [mail] = smtp.wait_for(1)
    body = mail.message.get_content()
    assert mail.message["Subject"].strip().startswith(f"load of {sent.file_name} failed")
    assert "error_type" in body and "LoadError" in body
    assert QuotingSink.quoted and QuotingSink.quoted not in body and QuotingSink.quoted not in mail.data.decode()


class QuotingSink:
    """A sink whose error message quotes a data line, as a database error may quote a value."""

    name = "quoting"
    api_version = 1
    quoted = ""

    from dataclasses import dataclass as _dc

    @_dc
    class Options:
        pass

    def load(self, delivery, path: Path, options) -> Any:
        from sf1630.api import LoadError

        QuotingSink.quoted = path.read_text(encoding="utf-8").splitlines()[1]
        raise LoadError(f"value not accepted in line 2: {QuotingSink.quoted!r}")


class QuotingSinkPlugin:
    from sf1630 import hookimpl as _hookimpl

    @_hookimpl
    def sf1630_register_sinks(self, register) -> None:
        register(QuotingSink())


def test_smtp_login_from_an_environment_variable(smtp, monkeypatch) -> None:
    from sf1630_plugins.alerts.email import EmailChannel, EmailOptions
    from sf1630_plugins.alerts.message import retention_warning

    with SmtpServer(users={"agent": "s3cret"}) as guarded:
        options = EmailOptions(host="127.0.0.1", port=guarded.port, tls="none", user="agent",
                               password_env="SF1630_TEST_SMTP_PASSWORD", sender="a@b.example",
                               recipients=["c@d.example"])
        monkeypatch.setenv("SF1630_TEST_SMTP_PASSWORD", "s3cret")
        EmailChannel(options).send(retention_warning("KY", "OUT/x.csv", 21))
        monkeypatch.setenv("SF1630_TEST_SMTP_PASSWORD", "wrong")
        with pytest.raises(Exception, match="535"):
            EmailChannel(options).send(retention_warning("KY", "OUT/x.csv", 21))
        assert [m.login for m in guarded.messages] == ["agent"]


def test_an_smtp_server_that_is_down_costs_no_transfer(platform, caplog) -> None:
    from sf1630.testing.sshd import free_port

    sender = platform.sandbox.write_agent("source", receive=False, rows=5, agent={"receipt_timeout": 30})
    unknown_recipient(sender)
    add_alerts(sender, {"email": {"host": "127.0.0.1", "port": free_port(), "tls": "none", "timeout": 1,
                                  "sender": "a@b.example", "recipients": ["c@d.example"]}})
    transfers = run_round(sender)
    assert sorted(t.state for t in transfers) == ["cleaned", "delivered"]
    assert "alert not sent by e-mail to c@d.example" in caplog.text


@pytest.mark.parametrize("table, expected", [
    ({"email": {"host": "smtp.example"}}, r"agent.toml:\d+ \[alerts.email\]: .*sender is required"),
    ({"webhook": {"url": "ftp://x"}}, r"\[alerts.webhook\]: .*must start with https://"),
    ({"events": ["failed"], "webhook": {"url": "https://x"}}, r"\[alerts\]: .*unknown 'failed'; choose from"),
    ({"pager": {}}, r"agent.toml:\d+ \[alerts\]: unknown key 'pager'"),
    ({"email": {"host": "h", "sender": "a@b", "recipients": ["c@d"], "prot": 25}}, r"did you mean 'port'"),
])
def test_alert_config_errors_say_file_line_and_table(platform, table, expected) -> None:
    from sf1630.config.load import load_config

    sender = platform.sandbox.write_agent("source", receive=False)
    add_alerts(sender, table)
    from sf1630.plugins import make_plugin_host

    with pytest.raises(ConfigError, match=expected):
        make_plugin_host().configure(load_config(sender), "run")


def test_a_password_in_the_alerts_table_is_refused_by_the_config_check(platform, capsys) -> None:
    sender = platform.sandbox.write_agent("source", receive=False)
    add_alerts(sender, {"email": {"host": "h", "sender": "a@b", "recipients": ["c@d"], "password": "x"}})
    status, out, err = in_process("run", "--config", str(sender))(capsys)
    assert status == 1 and "alerts.email.password: secrets never go in a config file" in out + err


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_starttls_is_the_default_and_checks_the_servers_certificate(tmp_path: Path) -> None:
    import ssl

    from sf1630_plugins.alerts.email import EmailChannel, EmailOptions
    from sf1630_plugins.alerts.message import retention_warning

    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with SmtpServer(tls=context) as server:
        options = dict(host="127.0.0.1", port=server.port, sender="a@b.example", recipients=["c@d.example"])
        with pytest.raises(ssl.SSLCertVerificationError):  # not trusted: nothing is sent in the clear
            EmailChannel(EmailOptions(**options)).send(retention_warning("KY", "OUT/x.csv", 21))
        EmailChannel(EmailOptions(**options, ca_file=cert)).send(retention_warning("KY", "OUT/x.csv", 21))
        [mail] = server.wait_for(1)
    assert mail.tls and "OUT/x.csv" in mail.message.get_content()


def test_sf1630_run_stops_at_start_on_a_bad_alerts_table(platform, capsys) -> None:
    sender = platform.sandbox.write_agent("source", receive=False)
    add_alerts(sender, {"webhook": {"url": "ftp://nowhere"}})
    status, _, err = in_process("run", "--config", str(sender))(capsys)
    assert status == 1 and "[alerts.webhook]" in err and "must start with https://" in err
