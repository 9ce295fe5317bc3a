"""Database outages for tests, through the real engine and the real driver.

``TcpProxy`` sits between the service and PostgreSQL (127.0.0.1:5432): ``cut()`` closes every
open connection and refuses new ones (what a crashed or restarting server looks like to the
client), ``restore()`` accepts again. ``SqliteWriteLock`` holds SQLite's write lock from another
connection (``BEGIN EXCLUSIVE``), so every writer of the service waits out its busy timeout and
gets "database is locked", as it would behind a long-running writer.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any


class TcpProxy:
    """A loopback TCP proxy to ``(host, port)`` that can drop and refuse connections on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.up = True
        self.refused = 0  # connections refused while cut
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def url(self, database: str) -> str:
        """A PostgreSQL URL for ``database`` through this proxy."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def cut(self) -> None:
        """Close every open connection and refuse new ones until ``restore()``."""
        with self._lock:
            self.up = False
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            self.up = True

    def close(self) -> None:
        """Stop listening and close everything."""
        self._stopped = True
        self.cut()
        _close(self._listener)
        self._thread.join(timeout=5)

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self.up
            if not up:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class SqliteWriteLock:
    """Holds the write lock of a SQLite file from its own connection while in use (``with``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None

    def acquire(self) -> None:
        """Take the write lock (waits for a current writer to finish)."""
        self._connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        """Give the lock back (nothing was written)."""
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None

    def __enter__(self) -> "SqliteWriteLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class BreakableDatabase:
    """A database the test can take away and give back: SQLite (write-locked) or PostgreSQL (proxied).

    ``url`` is what the service is configured with; ``start_outage()`` / ``end_outage()`` break
    and restore it through the real driver.
    """

    def __init__(self, kind: str, folder: Path, postgres_url: str | None = None) -> None:
        self.kind = kind
        self.proxy: TcpProxy | None = None
        self._lock: SqliteWriteLock | None = None
        if kind == "postgres":
            assert postgres_url is not None
            host_port, database = postgres_url.rsplit("@", 1)[1].rsplit("/", 1)
            host, port = host_port.split(":")
            self.proxy = TcpProxy(host, int(port))
            self.url = self.proxy.url(database)
        else:
            self.path = Path(folder) / "retain.db"
            self.url = f"sqlite:///{self.path}"

    def start_outage(self) -> None:
        """The database stops answering (PostgreSQL) or stays locked by another writer (SQLite)."""
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self._lock = SqliteWriteLock(self.path)
            self._lock.acquire()

    def end_outage(self) -> None:
        """The database is back."""
        if self.proxy is not None:
            self.proxy.restore()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        """End any outage and stop the proxy."""
        self.end_outage()
        if self.proxy is not None:
            self.proxy.close()
