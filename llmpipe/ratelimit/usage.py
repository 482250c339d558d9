"""The tokens a reply says it used: from its JSON, or a stream's last chunk.

Limits are charged an estimate before the call; this is the figure that
corrects it. A reply that reports no usage leaves the estimate standing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmpipe.errors import LLMError
from llmpipe.event_stream import StreamSummary
from llmpipe.request import LLMResponse
from llmpipe.sse import ServerSentEvent

__all__ = ["StreamUsage", "reported_tokens", "total_tokens"]


def total_tokens(usage: Any) -> int | None:
    """``total_tokens`` of a ``usage`` object, else prompt plus completion; None if neither."""
    if not isinstance(usage, dict):
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    counted = [p for p in parts if isinstance(p, int)]
    return sum(counted) if counted else None


def reported_tokens(response: LLMResponse) -> int | None:
    """The total a JSON reply reports; None for a body that is not JSON."""
    try:
        payload = response.json()
    except LLMError:
        return None
    return total_tokens(payload.get("usage")) if isinstance(payload, dict) else None


class StreamUsage:
    """A stream observer: keeps the last usage-bearing chunk's usage and calls
    ``on_total(tokens or None)`` once the stream ends."""

    __slots__ = ("_on_total", "_usage")

    def __init__(self, on_total: Callable[[int | None], None]) -> None:
        self._on_total = on_total
        self._usage: Any = None

    def on_event(self, event: ServerSentEvent) -> None:
        if b'"usage"' not in event.raw:
            return
        try:
            payload = event.json()
        except ValueError:
            return
        if isinstance(payload, dict) and payload.get("usage"):
            self._usage = payload["usage"]

    def on_end(self, summary: StreamSummary) -> None:
        self._on_total(total_tokens(self._usage))
