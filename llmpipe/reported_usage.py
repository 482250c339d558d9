"""The ``usage`` a reply reports: from its JSON, or from a stream's last chunk.

Counting, rate limits and budgets all correct their figures with it, so the
reading lives once, here. A stream sends usage in its final chunk (when asked
with ``stream_options.include_usage``); the watcher keeps the last one seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmpipe.errors import LLMError
from llmpipe.event_stream import StreamSummary
from llmpipe.request import LLMResponse
from llmpipe.sse import ServerSentEvent

__all__ = ["UsageWatcher", "reply_usage"]


def reply_usage(response: LLMResponse) -> Any:
    """The ``usage`` object of a JSON reply, or None (no usage, or not JSON)."""
    try:
        payload = response.json()
    except LLMError:
        return None
    return payload.get("usage") if isinstance(payload, dict) else None


class UsageWatcher:
    """A stream observer: keeps the last usage a stream reports and calls
    ``done(usage or None, summary)`` once the stream ends."""

    __slots__ = ("_done", "usage")

    def __init__(self, done: Callable[[Any, StreamSummary], None]) -> None:
        self._done = done
        self.usage: Any = None

    def on_event(self, event: ServerSentEvent) -> None:
        if b'"usage"' not in event.raw:  # cheap: most chunks carry none
            return
        try:
            payload = event.json()
        except ValueError:
            return
        if isinstance(payload, dict) and payload.get("usage"):
            self.usage = payload["usage"]

    def on_end(self, summary: StreamSummary) -> None:
        self._done(self.usage, summary)
