"""Retry decisions as pure policy objects: "retry after this delay, or not".

The policy never sleeps or sends; ``RetryMiddleware`` does the waiting. That
keeps strategies easy to test and to replace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol

import attrs

from llmpipe.errors import LLMAPIError, LLMConnectionError, LLMError
from llmpipe.request import LLMRequest

__all__ = ["RETRY_STATUSES", "ExponentialBackoff", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryPolicy(Protocol):
    """Decides whether a failed attempt is retried, and after how long."""

    def retry_delay(self, request: LLMRequest, error: LLMError, retries: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up.

        ``retries`` counts the retries already made for this call.
        """


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, then ``Retry-After``.

    ``Retry-After`` may be seconds or an HTTP date. Unparseable values are
    ignored rather than trusted.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@attrs.frozen(kw_only=True)
class ExponentialBackoff:
    """The spec's strategy: ``base_delay * 2**n``, honouring the server's hints.

    Retries 429/5xx-listed statuses, connection errors and timeouts; obeys an
    ``x-should-retry`` header; never retries other 4xx or malformed replies.
    ``jitter`` (0..1) removes up to that fraction of each delay at random, so
    many clients do not retry in lockstep. A per-call ``max_retries`` option
    overrides ``max_retries``.
    """

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.0
    retry_statuses: frozenset[int] = RETRY_STATUSES

    def retry_delay(self, request: LLMRequest, error: LLMError, retries: int) -> float | None:
        limit = request.options.max_retries
        if limit is None:
            limit = self.max_retries
        if retries >= limit or not self._retryable(error):
            return None
        hint = parse_retry_after(error.headers) if isinstance(error, LLMAPIError) else None
        if hint is None:
            hint = self.base_delay * 2**retries
            if self.jitter:
                hint *= 1 - self.jitter * random.random()  # noqa: S311 - not for security
        return min(hint, self.max_delay)

    def _retryable(self, error: LLMError) -> bool:
        if isinstance(error, LLMAPIError):
            verdict = error.headers.get("x-should-retry")
            if verdict == "true":
                return True
            if verdict == "false":
                return False
            return error.status_code in self.retry_statuses
        return isinstance(error, LLMConnectionError)
