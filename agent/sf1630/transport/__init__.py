"""SFTP transport on asyncssh: sessions, a connection pool, a blocking facade, retry delays.

Knows nothing about plugins or documents. Import from the submodules (``sf1630.transport.sftp``,
``.pool``, ``.sync``, ``.backoff``, ``.knownhosts``); this package stays light to import.
"""
