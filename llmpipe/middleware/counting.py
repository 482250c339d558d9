"""CountingMiddleware: calls, attempts, retries, failures and tokens.

Placed outside retry, it counts a call once however many attempts it took;
the attempt count comes from ``request.context.attempts``, written by retry.
"""

from __future__ import annotations

from collections.abc import Awaitable

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
    """Counts in plain ints (the pipeline runs on one loop, so no lock is needed).

    Each figure is an attribute named after its ``Stats`` field with a leading
    underscore, not an entry of a dict: every call adds to about ten of them,
    and an attribute's load and store cost the interpreter a fraction of a
    dict's (about 4k instructions per call less).
    """

    _requests: int
    _attempts: int
    _retries: int
    _failures: int
    _prompt_tokens: int
    _completion_tokens: int
    _total_tokens: int
    _cached_tokens: int
    _reasoning_tokens: int
    _cache_hits: int
    _cache_misses: int
    _fallbacks: int
    _hedges: int
    _hedges_lost: int

    def __init__(self) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"CountingMiddleware({self.snapshot()!r})"

    def reset(self) -> None:
        for name in _FIELDS:
            setattr(self, "_" + name, 0)

    def snapshot(self) -> Stats:
        return Stats(**{name: getattr(self, "_" + name) for name in _FIELDS})

    def count_failure(self) -> None:
        """A call that passed the pipeline but failed later (its reply did not fit)."""
        self._failures += 1

    @property
    def requests(self) -> int:
        return self._requests

    def wrap(self, call_next: Handler) -> Handler:
        """The layer composed once with ``call_next`` (see ``llmpipe.pipeline``):
        every call crosses it, and a link and ``__call__`` would cost two
        Python calls where this handler costs one."""

        async def counted(request: LLMRequest) -> LLMResponse:
            self._requests += 1
            try:
                response = await call_next(request)
            except LLMError:
                self._failures += 1
                raise
            finally:
                context = request.context
                attempts = context.attempts
                self._attempts += attempts
                self._retries += attempts - 1
                cache = context.cache
                if cache is not None:  # set by a cache layer inside this one
                    if cache == "hit":
                        self._cache_hits += 1
                    else:
                        self._cache_misses += 1
                if context.deployment is not None:  # a router inside this one
                    self._add_routing(context)
            if response.stream is not None:
                response.stream.observe(UsageWatcher(self._stream_ended))
                return response
            figures = reply_figures(response)  # a malformed body: the client reports it
            if figures is not None:
                prompt, completion, total, cached, reasoning = figures
                self._prompt_tokens += prompt
                self._completion_tokens += completion
                self._total_tokens += total
                if cached:  # most replies report 0 (or nothing): no add
                    self._cached_tokens += cached
                if reasoning:
                    self._reasoning_tokens += reasoning
            return response

        return counted

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)

    def _stream_ended(self, usage: TokenCount | None, summary: StreamSummary) -> None:
        """Usage from the stream's last chunk; a stream that failed after its first
        event is a failed call."""
        if usage is not None:
            self._prompt_tokens += usage.prompt_tokens
            self._completion_tokens += usage.completion_tokens
            self._total_tokens += usage.total_tokens
            self._cached_tokens += usage.cached_tokens
            self._reasoning_tokens += usage.reasoning_tokens
        if summary.error is not None:
            self._failures += 1

    def _add_routing(self, context: CallContext) -> None:
        self._fallbacks += len(context.fallbacks)
        self._hedges += context.hedges
        self._hedges_lost += context.hedges - context.hedges_won
