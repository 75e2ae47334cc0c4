"""A blocking facade over :class:`~sf1630.transport.sftp.Session`, so plugins never touch asyncio.

The session runs on its own event loop in a daemon thread; each method submits the
coroutine there and waits for the result. Progress callbacks run in that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sf1630.transport.sftp import Credentials, Endpoint, RemoteFile, Session, Tuning, connect

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sf1630-sftp", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the operation too
            raise

    def stop(self) -> None:
        try:
            self.run(self.loop.shutdown_default_executor())  # to_thread workers (key loading, fsync)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class SyncSession:
    """Blocking SFTP session: ``with SyncSession(endpoint, credentials) as s: s.upload(...)``.

    Same methods, arguments and errors as :class:`Session`, without ``await``.
    """

    def __init__(self, endpoint: Endpoint, credentials: Credentials, *, timeout: float = 30.0,
                 tuning: Tuning | None = None):
        self._runner = _LoopThread()
        try:
            self._session: Session = self._runner.run(connect(endpoint, credentials, timeout=timeout,
                                                              tuning=tuning))
        except BaseException:
            self._runner.stop()
            raise

    @property
    def user(self) -> str:
        """The SFTP user."""
        return self._session.user

    @property
    def key_used(self) -> Path:
        """The private key the server accepted."""
        return self._session.key_used

    @property
    def closed(self) -> bool:
        """True once closed or dropped."""
        return self._session.closed

    def upload(self, local: Path, remote: str, *, progress: Callable[[int], None] | None = None) -> int:
        """See :meth:`Session.upload`."""
        return self._runner.run(self._session.upload(local, remote, progress=progress))

    def write_bytes(self, remote: str, data: bytes) -> None:
        """See :meth:`Session.write_bytes`."""
        self._runner.run(self._session.write_bytes(remote, data))

    def download(self, remote: str, local: Path, *, expected_size: int | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
        """See :meth:`Session.download`."""
        return self._runner.run(self._session.download(remote, local, expected_size=expected_size,
                                                       progress=progress))

    def read_bytes(self, remote: str, max_bytes: int = 1 << 20) -> bytes:
        """See :meth:`Session.read_bytes`."""
        return self._runner.run(self._session.read_bytes(remote, max_bytes))

    def listdir(self, path: str) -> list[RemoteFile]:
        """See :meth:`Session.listdir`."""
        return self._runner.run(self._session.listdir(path))

    def stat(self, path: str) -> RemoteFile | None:
        """See :meth:`Session.stat`."""
        return self._runner.run(self._session.stat(path))

    def remove(self, path: str, *, missing_ok: bool = True) -> bool:
        """See :meth:`Session.remove`."""
        return self._runner.run(self._session.remove(path, missing_ok=missing_ok))

    def rename(self, old: str, new: str, *, replace: bool = False) -> None:
        """See :meth:`Session.rename`."""
        self._runner.run(self._session.rename(old, new, replace=replace))

    def close(self) -> None:
        """Close the session and stop its thread."""
        if self._runner.thread.is_alive():
            try:
                self._runner.run(self._session.close())
            finally:
                self._runner.stop()

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
