"""Which requests may be answered from the cache: small, pure decisions.

By default only *deterministic* requests are cached. A caller who samples
(``temperature`` above 0, no ``seed``) asks for a fresh draw each time;
answering from a cache would freeze the first draw and silently take away
the variety they asked for. With ``temperature`` 0 or a fixed ``seed`` the
caller asks for the same answer to the same question, which is exactly what
a cache gives (faster, and without paying twice). Embeddings do not sample
at all, so they are cached too.

The per-call option ``cache=True`` forces caching and ``cache=False`` skips
the cache (no lookup, no store) whatever the policy says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmpipe.request import LLMRequest

__all__ = ["CachePolicy", "deterministic", "wants_cache"]

CachePolicy = Callable[[LLMRequest], bool]
"""Given a request the caller did not decide about, whether to cache it."""

_UNSAMPLED_ENDPOINTS = frozenset({"embeddings"})


def deterministic(request: LLMRequest) -> bool:
    """True for ``temperature`` 0, a ``seed``, or an endpoint that never samples."""
    if request.endpoint.strip("/") in _UNSAMPLED_ENDPOINTS:
        return True
    body: Any = request.body or {}
    temperature = body.get("temperature")
    is_zero = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    return (is_zero and temperature == 0) or body.get("seed") is not None


def wants_cache(request: LLMRequest, policy: CachePolicy) -> bool:
    """The caller's ``cache=`` option if given, else the policy's answer."""
    forced = request.options.cache
    if forced is not None:
        return bool(forced)
    return policy(request)
