"""Masking the API key in what a server sends back.

A server that echoes the request's key (some proxies do, in error bodies)
must not put it in our errors, logs or caches. The transport masks replies
it reads whole, and each chunk of a streamed body.
"""

from __future__ import annotations

__all__ = ["KeyMask"]

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
        return content.replace(self._secret, _MASK) if self._secret in content else content

    def chunk(self, chunk: bytes) -> bytes:
        """One chunk of a streamed body, masked (a key split across chunks is not caught)."""
        return self.body(chunk)
