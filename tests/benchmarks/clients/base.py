"""What every client under test offers the driver, and how it says "I can't"."""

from __future__ import annotations

from typing import Protocol

__all__ = ["AsyncClient", "SyncClient", "Unsupported"]


class Unsupported(Exception):
    """The library cannot do this measurement; the table shows the reason, not a number."""


class AsyncClient(Protocol):
    async def chat(self, model: str) -> str:
        """Send one chat request; return the reply's message content."""

    async def stream(self) -> int:
        """Send one streamed chat request, touch every chunk; return the chunks seen."""

    async def aclose(self) -> None: ...


class SyncClient(Protocol):
    def chat(self, model: str) -> str:
        """Send one chat request; return the reply's message content."""

    def close(self) -> None: ...
