"""Alerts by e-mail, through an SMTP server (``[alerts.email]`` in the agent file).

The password is never in the config file (issue #13): it comes from ``password_env`` or
``password_file``. Connections use STARTTLS by default.
"""

from __future__ import annotations

import email.message
import email.utils
import os
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sf1630.api import option
from sf1630.errors import ConfigError
from sf1630_plugins.alerts.message import Alert


@dataclass
class EmailOptions:
    """The ``[alerts.email]`` table."""

    host: str = option("", "SMTP server host name (required)")
    port: int = option(0, "SMTP port; default 465 with tls = \"ssl\", else 587 (STARTTLS) or 25 (none)")
    tls: Literal["starttls", "ssl", "none"] = option("starttls", "\"starttls\", \"ssl\" (SMTPS) or \"none\" "
                                                      "(a relay on this host only)")
    user: str = option("", "SMTP login name; empty: no login")
    password_env: str = option("", "environment variable holding the SMTP password")
    password_file: Path | None = option(None, "file holding the SMTP password (owner-only)")
    sender: str = option("", "From address (required), e.g. \"sf1630@vendor.dk\"")
    recipients: list[str] = option([], "To addresses (at least one)")
    ca_file: Path | None = option(None, "CA certificate(s) to trust for the server (PEM), e.g. a company CA; "
                                        "default: the system's")
    subject_prefix: str = option("[sf1630]", "put before each subject")
    timeout: float = option(10.0, "seconds to wait for the SMTP server")
    enabled: bool = option(True, "false turns e-mail alerts off but keeps the table")

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("[alerts.email] host is required: the SMTP server, e.g. host = \"smtp.vendor.dk\"")
        if not self.sender or "@" not in self.sender:
            raise ValueError("[alerts.email] sender is required: the From address, e.g. sender = \"sf1630@vendor.dk\"")
        if not self.recipients or not all("@" in r for r in self.recipients):
            raise ValueError("[alerts.email] recipients: list at least one address, e.g. recipients = [\"ops@vendor.dk\"]")
        if self.password_env and self.password_file:
            raise ValueError("[alerts.email] give password_env or password_file, not both")
        if self.port == 0:
            self.port = {"ssl": 465, "starttls": 587}.get(self.tls, 25)


class EmailChannel:
    """Sends each alert as one plain-text message to every recipient."""

    name = "email"

    def __init__(self, options: EmailOptions):
        self.options = options

    def message(self, alert: Alert) -> email.message.EmailMessage:
        """The message for ``alert``: subject from its title, body from its facts."""
        o = self.options
        msg = email.message.EmailMessage()
        msg["Subject"] = f"{o.subject_prefix} {alert.title}".strip()
        msg["From"] = o.sender
        msg["To"] = ", ".join(o.recipients)
        msg["Date"] = email.utils.formatdate(alert.at, localtime=True)
        msg["Message-ID"] = email.utils.make_msgid(domain=alert.host or None)
        msg["X-Sf1630-Event"] = alert.kind
        msg.set_content(alert.text())
        return msg

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` (raises OSError / smtplib.SMTPException when the server refuses)."""
        o = self.options
        smtp: smtplib.SMTP
        context = ssl.create_default_context(cafile=str(o.ca_file) if o.ca_file else None)
        if o.tls == "ssl":
            smtp = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout, context=context)
        else:
            smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
        with smtp:
            if o.tls == "starttls":
                smtp.starttls(context=context)
            if o.user:
                smtp.login(o.user, self._password())
            smtp.send_message(self.message(alert))

    def _password(self) -> str:
        o = self.options
        if o.password_env:
            value = os.environ.get(o.password_env)
            if value is None:
                raise ConfigError(f"[alerts.email] password_env: environment variable {o.password_env} is not set")
            return value
        if o.password_file:
            return Path(o.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        raise ConfigError("[alerts.email] user is set but no password_env or password_file")

    def __str__(self) -> str:
        return f"e-mail to {', '.join(self.options.recipients)} via {self.options.host}:{self.options.port}"
