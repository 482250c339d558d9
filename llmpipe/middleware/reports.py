"""What the client asks of the layers that keep figures: the protocols, not the classes.

``AsyncLLM.get_stats()`` and ``get_usage()`` ask the pipeline for the first
middleware that fits ``CallCounter`` or ``UsageReporter``; the built-in
``CountingMiddleware`` and ``UsageMiddleware`` do, and so may a layer of the
user's own. The client never names a middleware class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from llmpipe.middleware.usage.tracker import UsageSnapshot

__all__ = ["CallCounter", "Stats", "UsageReporter"]


@attrs.frozen(kw_only=True)
class Stats:
    """A snapshot of what one client has done since creation or the last reset."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the server served from its prompt cache (part of ``prompt_tokens``)."""
    reasoning_tokens: int = 0
    """Completion tokens spent on reasoning (part of ``completion_tokens``)."""
    cache_hits: int = 0
    cache_misses: int = 0
    fallbacks: int = 0
    """Moves to another deployment within a routed call (see ``llmpipe.routing``)."""
    hedges: int = 0
    """Hedge requests sent by a router."""
    hedges_lost: int = 0
    """Hedge requests sent whose reply was not used: extra load for nothing."""


@runtime_checkable
class CallCounter(Protocol):
    """Counts calls; the client reports a reply that failed to structure to it."""

    def snapshot(self) -> Stats: ...

    def reset(self) -> None: ...

    def count_failure(self) -> None:
        """A call that passed the pipeline but failed after (its reply did not fit)."""


@runtime_checkable
class UsageReporter(Protocol):
    """Keeps usage totals per model and tag."""

    def usage(self) -> UsageSnapshot: ...

    def reset(self) -> None: ...
