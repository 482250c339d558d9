"""MemoryCache: the default backend, a bounded LRU with expiry, in this process."""

from __future__ import annotations

import collections
import os
import time

__all__ = ["MemoryCache"]


class MemoryCache:
    """Keeps at most ``max_entries`` values, evicting the least recently used.

    ``ttl`` (seconds) is the default lifetime of an entry; None keeps entries
    until evicted. Expired entries are dropped when read. Everything happens
    on the event loop without awaiting, so no lock is needed. Its secret is
    made with it: the entries and the secret live and die together.
    """

    def __init__(self, max_entries: int = 1024, ttl: float | None = None) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        self.max_entries = max_entries
        self.ttl = ttl
        # key -> (monotonic expiry or None, value); most recently used last
        self._entries: collections.OrderedDict[str, tuple[float | None, bytes]] = (
            collections.OrderedDict()
        )
        self._secret = os.urandom(32)

    def __repr__(self) -> str:
        return f"MemoryCache(max_entries={self.max_entries}, ttl={self.ttl!r})"

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires is not None and expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        lifetime = self.ttl if ttl is None else ttl
        expires = None if lifetime is None else time.monotonic() + lifetime
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def secret(self) -> bytes:
        return self._secret

    async def close(self) -> None:
        """Nothing to release; the entries stay until the object is dropped."""
