"""Alerts as a JSON POST to a webhook (``[alerts.webhook]`` in the agent file).

Many webhook URLs are secrets themselves (the token is in the path), so the URL may come from an
environment variable (``url_env``) instead of the file; a bearer token only ever does (``token_env``).
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass

from sf1630.api import option
from sf1630.errors import ConfigError
from sf1630_plugins.alerts.message import Alert


@dataclass
class WebhookOptions:
    """The ``[alerts.webhook]`` table."""

    url: str = option("", "http(s) URL to POST each alert to (or use url_env)")
    url_env: str = option("", "environment variable holding the URL, when the URL is a secret")
    token_env: str = option("", "environment variable holding a bearer token (Authorization header)")
    timeout: float = option(10.0, "seconds to wait for the webhook")
    enabled: bool = option(True, "false turns webhook alerts off but keeps the table")

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("[alerts.webhook] give url (e.g. url = \"https://hooks.vendor.dk/sf1630\") or url_env, "
                             "exactly one")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"[alerts.webhook] url {self.url!r} must start with https:// (or http://)")


class WebhookChannel:
    """POSTs ``Alert.document()`` as JSON; any 2xx answer counts as delivered."""

    name = "webhook"

    def __init__(self, options: WebhookOptions):
        self.options = options

    def url(self) -> str:
        """The URL, read from the environment when ``url_env`` is given."""
        o = self.options
        if o.url:
            return o.url
        value = os.environ.get(o.url_env, "")
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"[alerts.webhook] url_env: environment variable {o.url_env} is not set to an http(s) URL")
        return value

    def send(self, alert: Alert) -> None:
        """POST the alert (raises OSError / urllib.error.HTTPError when it is not taken)."""
        body = json.dumps(alert.document(), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url(), data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": "sf1630-alerts"})
        if self.options.token_env:
            token = os.environ.get(self.options.token_env)
            if not token:
                raise ConfigError(f"[alerts.webhook] token_env: environment variable {self.options.token_env} is not set")
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=self.options.timeout) as answer:
            answer.read()

    def __str__(self) -> str:
        # Only the host: the path of a webhook URL is often its secret.
        o = self.options
        return f"webhook at {urllib.parse.urlsplit(o.url).netloc}" if o.url else f"webhook from ${o.url_env}"
