"""CountingMiddleware: calls, attempts, retries, failures and tokens.

Placed outside retry, it counts a call once however many attempts it took;
the attempt count comes from ``request.context.attempts``, written by retry.
"""

from __future__ import annotations

import attrs

from llmpipe.errors import LLMError
from llmpipe.middleware.reports import Stats
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import CallContext, LLMRequest, LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.wire.usage import TokenCount, UsageWatcher, reply_figures

__all__ = ["CountingMiddleware", "Stats"]  # Stats re-exported for its old import path


_FIELDS = tuple(a.name for a in attrs.fields(Stats))


class CountingMiddleware(Middleware):
    """Counts in plain ints (the pipeline runs on one loop, so no lock is needed)."""

    def __init__(self) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"CountingMiddleware({self.snapshot()!r})"

    def reset(self) -> None:
        self._counts = dict.fromkeys(_FIELDS, 0)

    def snapshot(self) -> Stats:
        return Stats(**self._counts)

    def count_failure(self) -> None:
        """A call that passed the pipeline but failed later (its reply did not fit)."""
        self._counts["failures"] += 1

    @property
    def requests(self) -> int:
        return self._counts["requests"]

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        counts = self._counts
        counts["requests"] += 1
        try:
            response = await call_next(request)
        except LLMError:
            counts["failures"] += 1
            raise
        finally:
            context = request.context
            attempts = context.attempts
            counts["attempts"] += attempts
            counts["retries"] += attempts - 1
            cache = context.cache
            if cache is not None:  # set by a cache layer inside this one
                counts["cache_hits" if cache == "hit" else "cache_misses"] += 1
            if context.deployment is not None:  # a router inside this one
                _add_routing(counts, context)
        if response.stream is not None:
            response.stream.observe(UsageWatcher(self._stream_ended))
            return response
        figures = reply_figures(response)  # a malformed body: the client reports it
        if figures is not None:
            prompt, completion, total, cached, reasoning = figures
            counts["prompt_tokens"] += prompt
            counts["completion_tokens"] += completion
            counts["total_tokens"] += total
            counts["cached_tokens"] += cached
            counts["reasoning_tokens"] += reasoning
        return response

    def _stream_ended(self, usage: TokenCount | None, summary: StreamSummary) -> None:
        """Usage from the stream's last chunk; a stream that failed after its first
        event is a failed call."""
        _add_usage(self._counts, usage)
        if summary.error is not None:
            self._counts["failures"] += 1


def _add_routing(counts: dict[str, int], context: CallContext) -> None:
    counts["fallbacks"] += len(context.fallbacks)
    counts["hedges"] += context.hedges
    counts["hedges_lost"] += context.hedges - context.hedges_won


def _add_usage(counts: dict[str, int], usage: TokenCount | None) -> None:
    if usage is not None:
        counts["prompt_tokens"] += usage.prompt_tokens
        counts["completion_tokens"] += usage.completion_tokens
        counts["total_tokens"] += usage.total_tokens
        counts["cached_tokens"] += usage.cached_tokens
        counts["reasoning_tokens"] += usage.reasoning_tokens
