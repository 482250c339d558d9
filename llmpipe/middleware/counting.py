"""CountingMiddleware: calls, attempts, retries, failures and tokens.

Placed outside retry, it counts a call once however many attempts it took;
the attempt count comes from ``request.context["attempts"]`` set by retry.
"""

from __future__ import annotations

from typing import Any

import attrs

from llmpipe.errors import LLMError
from llmpipe.pipeline import Handler
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["CountingMiddleware", "Stats"]


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


_FIELDS = tuple(a.name for a in attrs.fields(Stats))


class CountingMiddleware:
    """Counts in plain ints (the pipeline runs on one loop, so no lock is needed)."""

    def __init__(self) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"CountingMiddleware({self.snapshot()!r})"

    def reset(self) -> None:
        self._counts = dict.fromkeys(_FIELDS, 0)

    def snapshot(self) -> Stats:
        return Stats(**self._counts)

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
            attempts = request.context.get("attempts", 1)
            counts["attempts"] += attempts
            counts["retries"] += attempts - 1
        self._add_usage(response)
        return response

    def _add_usage(self, response: LLMResponse) -> None:
        try:
            payload: Any = response.json()
        except LLMError:
            return  # the client reports the malformed body; counting stays quiet
        usage = payload.get("usage") if isinstance(payload, dict) else None
        if not isinstance(usage, dict):
            return
        counts = self._counts
        for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = usage.get(field)
            if isinstance(value, int):
                counts[field] += value
