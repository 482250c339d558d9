"""Masking the API key in what a server sends back.

A server that echoes the request's key (some proxies do, in error bodies)
must not put it in our errors, logs or caches. The transport masks replies
it reads whole, and streamed bodies across their chunks: a key cut in two
by a chunk boundary is caught as well.
"""

from __future__ import annotations

__all__ = ["KeyMask", "StreamMask"]

_MASK = b"***"


class KeyMask:
    """Replaces every occurrence of one secret with ``***``."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def __repr__(self) -> str:
        return "KeyMask(***)"

    def body(self, content: bytes) -> bytes:
        """A whole body, masked."""
        # find(), not ``in``: on bytes, ``in`` first tries an int and formats the error
        return content.replace(self._secret, _MASK) if content.find(self._secret) >= 0 else content

    def stream(self) -> StreamMask:
        """A mask for one streamed body (it keeps state between chunks)."""
        return StreamMask(self._secret)


class StreamMask:
    """Masks a body that arrives in chunks, holding back what may start the key.

    The end of a chunk that could be the beginning of the key (its longest
    suffix that is a proper prefix of the key) is kept until the next chunk
    says whether it is; ``end`` lets it go at the end of the body. Only such
    a suffix is held, not a fixed ``len(key) - 1`` bytes: an event's closing
    blank line never starts a key, so no complete event is delayed.
    """

    __slots__ = ("_held", "_secret", "_starts")

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._held = b""
        # The bytes a start of the key can end with: a chunk ending in any other
        # (an event's closing newline) holds nothing back, without a search.
        self._starts = frozenset(secret[:-1])

    def __repr__(self) -> str:
        return f"StreamMask(***, holding={len(self._held)})"

    @property
    def holding(self) -> bool:
        """Whether bytes are held back, waiting for the next chunk or the end."""
        return bool(self._held)

    def feed(self, chunk: bytes) -> bytes:
        """The masked bytes that are safe to pass on, ``chunk`` included."""
        data = self._held + chunk if self._held else chunk
        if data.find(self._secret) >= 0:
            data = data.replace(self._secret, _MASK)
        keep = self._start_of_key(data)
        self._held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep] if keep else data

    def end(self) -> bytes:
        """The body has ended: what was held back (it was not the key)."""
        held, self._held = self._held, b""
        return held

    def _start_of_key(self, data: bytes) -> int:
        """The length of the longest suffix of ``data`` that is a proper prefix of the key."""
        if not data or data[-1] not in self._starts:
            return 0
        secret = self._secret
        at = data.find(secret[:1], max(0, len(data) - len(secret) + 1))
        while at >= 0:
            if secret.startswith(data[at:]):
                return len(data) - at
            at = data.find(secret[:1], at + 1)
        return 0
