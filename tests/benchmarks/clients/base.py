"""What every client under test offers the driver, and how it says "I can't"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["AsyncClient", "OnEvent", "SyncClient", "Unsupported"]

OnEvent = Callable[[], None]
"""Called once per chunk by ``stream`` (the many-streams benchmark times events)."""


class Unsupported(Exception):
    """The library cannot do this measurement; the table shows the reason, not a number."""


class AsyncClient(Protocol):
    async def chat(self, model: str) -> str:
        """Send one chat request; return the reply's message content."""

    async def stream(self, model: str, on_event: OnEvent | None = None) -> int:
        """Send one streamed chat request, read every chunk's delta text (calling
        ``on_event`` after each when given); return the chunks seen."""

    async def aclose(self) -> None: ...


class SyncClient(Protocol):
    def chat(self, model: str) -> str:
        """Send one chat request; return the reply's message content."""

    def close(self) -> None: ...
