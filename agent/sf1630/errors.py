"""Errors the core raises. Every message says what is wrong, where, and what to do."""


class Sf1630Error(Exception):
    """Base of every error the agent reports to a user."""


class DocumentError(Sf1630Error):
    """A trigger, receipt, metadata file or file name is malformed or invalid.

    ``origin`` names the file, ``line`` and ``element`` say where (when known).
    """

    def __init__(self, message: str, origin: str = "", line: int | None = None, element: str | None = None):
        self.origin, self.line, self.element, self.reason = origin, line, element, message
        where = origin or "<input>"
        if line is not None:
            where += f":{line}"
        if element:
            where += f" <{element}>"
        super().__init__(f"{where}: {message}")


class ConfigError(Sf1630Error):
    """A config file is broken; the message names the file, line and key."""


class UsageError(Sf1630Error):
    """The command line asks for something the config does not have, e.g. an unknown municipality.

    The command exits with status 2, as for any other usage error, so that a typo in a cron line is seen.
    """

    exit_status = 2


class TransportError(Sf1630Error):
    """A network or SFTP operation failed; usually worth a retry."""


class ConnectFailed(TransportError):
    """No connection to the platform: refused, timed out or lost while connecting. Retried."""


class HostKeyError(TransportError):
    """The server's host key is unknown or changed. Never retried."""


class RemoteRefused(TransportError):
    """The server refused an operation (permission denied), e.g. a locked name (PROTOCOL rule 2)."""


class RemoteMissing(TransportError):
    """A remote file that should exist does not."""
