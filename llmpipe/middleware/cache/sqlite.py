"""SQLiteCache: cached replies in a local file that outlives the process.

sqlite3 blocks, so every statement runs on one worker thread that owns the
connection: the event loop never waits on the disk, and the connection is
only ever used by the thread that made it. The file is in WAL mode, so
readers in other processes do not block a writer. Expired rows are never
returned, and are deleted when the file is opened and every few hundred writes.
The cache's secret is one row of a second table, ``llmpipe_cache_meta``,
written once by whichever process gets there first (``INSERT OR IGNORE``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from typing import Any, TypeVar

__all__ = ["SQLiteCache"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS llmpipe_cache "
    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL)"
)
_GET = "SELECT value FROM llmpipe_cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
_SET = "INSERT OR REPLACE INTO llmpipe_cache (key, value, expires_at) VALUES (?, ?, ?)"
_PRUNE = "DELETE FROM llmpipe_cache WHERE expires_at IS NOT NULL AND expires_at <= ?"
_META_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS llmpipe_cache_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)"
)
_OFFER_KEY = "INSERT OR IGNORE INTO llmpipe_cache_meta (name, value) VALUES ('secret', ?)"
_READ_KEY = "SELECT value FROM llmpipe_cache_meta WHERE name = 'secret'"
_PRUNE_EVERY = 256  # writes
_BUSY_TIMEOUT = 5.0  # seconds another process may hold the write lock


class SQLiteCache:
    """A cache in the SQLite file at ``path``; ``ttl`` is the default lifetime.

    Construction does no I/O: the file is opened on first use. Expiry uses
    wall-clock time, since entries outlive the process that wrote them.
    """

    def __init__(self, path: str | PathLike[str], ttl: float | None = None) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        self.path = path
        self.ttl = ttl
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None  # touched only on the worker
        self._writes = 0
        self._closed = False
        self._secret: bytes | None = None

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, ttl={self.ttl!r})"

    async def get(self, key: str) -> bytes | None:
        return await self._run(self._get, key)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        lifetime = self.ttl if ttl is None else ttl
        expires = None if lifetime is None else time.time() + lifetime
        await self._run(self._set, key, value, expires)

    async def secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self._run(self._read_secret)
        return self._secret

    async def prune(self) -> int:
        """Delete expired rows now; returns how many went."""
        return await self._run(self._prune)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
            await asyncio.to_thread(executor.shutdown)  # join the worker without blocking

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="llmpipe-sqlite-cache")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # -- on the worker thread -------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(_SCHEMA)
                connection.execute(_META_SCHEMA)
                connection.execute(_PRUNE, (time.time(),))
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _get(self, key: str) -> bytes | None:
        row = self._db().execute(_GET, (key, time.time())).fetchone()
        return None if row is None else bytes(row[0])

    def _set(self, key: str, value: bytes, expires: float | None) -> None:
        db = self._db()
        db.execute(_SET, (key, value, expires))
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            db.execute(_PRUNE, (time.time(),))

    def _read_secret(self) -> bytes:
        db = self._db()
        db.execute(_OFFER_KEY, (os.urandom(32),))  # kept only if no process was first
        return bytes(db.execute(_READ_KEY).fetchone()[0])

    def _prune(self) -> int:
        return self._db().execute(_PRUNE, (time.time(),)).rowcount

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
