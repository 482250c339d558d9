"""The tokens a reply says it used: from its JSON, or a stream's last chunk.

Limits are charged an estimate before the call; this is the figure that
corrects it. A reply that reports no usage leaves the estimate standing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmpipe.reported_usage import UsageWatcher, reply_usage
from llmpipe.request import LLMResponse

__all__ = ["reported_tokens", "stream_tokens", "total_tokens"]


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
    return total_tokens(reply_usage(response))


def stream_tokens(on_total: Callable[[int | None], None]) -> UsageWatcher:
    """A stream observer that calls ``on_total(tokens or None)`` once the stream ends."""
    return UsageWatcher(lambda usage, _: on_total(total_tokens(usage)))
