"""Retry decisions as pure policy objects: "retry after this delay, or not".

The policy never sleeps or sends; ``RetryMiddleware`` does the waiting. That
keeps strategies easy to test and to replace. A policy that declines a
retryable failure for a reason worth telling (the server asks for a longer
wait than the cap) returns ``NotRetried(reason)``; the reason reaches the
caller in the error's ``not_retried``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Protocol, Self, TypeVar

import attrs

from llmpipe.config import LLMConfig
from llmpipe.errors import LLMAPIError, LLMConnectionError, LLMError
from llmpipe.request import LLMRequest

__all__ = [
    "RETRY_STATUSES",
    "ExponentialBackoff",
    "NotRetried",
    "RetryPolicy",
    "parse_retry_after",
]

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
"""The spec's 429, 500, 502, 503, 504; the timeout and conflict statuses
openai-python also retries (408, 409); Cloudflare's origin errors 520-524 and
the 529 "overloaded" of Anthropic-style gateways."""

_SPEC = LLMConfig()
"""Where a policy used outside a client takes the settings it leaves None."""

T = TypeVar("T")

_HINT_HEADERS = (
    ("retry-after-ms", "retry-after"),
    ("llm_provider-retry-after-ms", "llm_provider-retry-after"),
)
"""The standard hints first; LiteLLM's proxy forwards its upstream's only under
an ``llm_provider-`` prefix."""


@attrs.frozen
class NotRetried:
    """A policy's "no", with the reason the caller is told."""

    reason: str


class RetryPolicy(Protocol):
    """Decides whether a failed attempt is retried, and after how long."""

    def retry_delay(
        self, request: LLMRequest, error: LLMError, retries: int
    ) -> float | NotRetried | None:
        """Seconds to wait before the next attempt; None (or ``NotRetried``) to give up.

        ``retries`` counts the retries already made for this call.
        """


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, then ``Retry-After``;
    without either, LiteLLM's ``llm_provider-retry-after-ms`` and
    ``llm_provider-retry-after``.

    ``Retry-After`` may be seconds or an HTTP date. Unparseable values are
    ignored rather than trusted.
    """
    for millis_name, seconds_name in _HINT_HEADERS:
        millis = headers.get(millis_name)
        if millis is not None:
            try:
                return max(0.0, float(millis) / 1000)
            except ValueError:
                pass
        value = headers.get(seconds_name)
        if value is not None:
            seconds = _seconds(value, now)
            if seconds is not None:
                return seconds
    return None


def _seconds(value: str, now: float | None) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # here: rarely needed, costly to import

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@attrs.frozen(kw_only=True)
class ExponentialBackoff:
    """The spec's strategy: ``base_delay * 2**n``, honouring the server's hints.

    Retries ``RETRY_STATUSES``, connection errors and timeouts; obeys an
    ``x-should-retry`` header; never retries other 4xx or malformed replies.
    A server's wait longer than ``max_delay`` is not cut short (retrying
    early only meets the same refusal): the call gives up at once, saying
    how long the server asked for, unless the call's ``deadline`` leaves room
    for the whole wait.
    ``jitter`` (0..1) removes up to that fraction of each delay at random, so
    many clients do not retry in lockstep. A per-call ``max_retries`` option
    overrides ``max_retries``.

    A setting left None is the client's: ``RetryMiddleware`` fills it from the
    ``LLMConfig`` (``max_retries``, ``retry_delay``, ``max_retry_delay``,
    ``retry_jitter``), so a policy of your own keeps the config's numbers
    unless it sets its own. Used outside a client, None is the spec's default.
    """

    max_retries: int | None = None
    """Retries after the first attempt (None: ``LLMConfig.max_retries``)."""
    base_delay: float | None = None
    """Seconds before the first retry, doubled for each next (None: ``retry_delay``)."""
    max_delay: float | None = None
    """The longest wait (None: ``LLMConfig.max_retry_delay``)."""
    jitter: float | None = None
    """0..1, the share of each wait removed at random (None: ``retry_jitter``)."""
    retry_statuses: frozenset[int] = RETRY_STATUSES

    def with_config(self, config: LLMConfig) -> Self:
        """This policy with every setting it leaves None taken from ``config``."""
        return attrs.evolve(
            self,
            max_retries=_given(self.max_retries, config.max_retries),
            base_delay=_given(self.base_delay, config.retry_delay),
            max_delay=_given(self.max_delay, config.max_retry_delay),
            jitter=_given(self.jitter, config.retry_jitter),
        )

    def retry_delay(
        self, request: LLMRequest, error: LLMError, retries: int
    ) -> float | NotRetried | None:
        max_retries, base_delay, max_delay, jitter = self._settings()
        limit = request.options.max_retries
        if limit is None:
            limit = max_retries
        if retries >= limit or not self._retryable(error):
            return None
        hint = parse_retry_after(error.headers) if isinstance(error, LLMAPIError) else None
        if hint is None:
            delay: float = base_delay * 2**retries
            if jitter:
                delay *= 1 - jitter * random.random()  # noqa: S311 - not for security
            return min(delay, max_delay)
        if hint <= max_delay or request.options.deadline_at is not None:
            return hint  # the middleware checks that the deadline leaves room for it
        return NotRetried(
            f"the server asked to wait {hint:g} s, longer than the {max_delay:g} s "
            "cap (max_retry_delay); give the call a deadline to wait that long"
        )

    def _settings(self) -> tuple[int, float, float, float]:
        """The four settings, the spec's default for any still None."""
        return (
            _given(self.max_retries, _SPEC.max_retries),
            _given(self.base_delay, _SPEC.retry_delay),
            _given(self.max_delay, _SPEC.max_retry_delay),
            _given(self.jitter, _SPEC.retry_jitter),
        )

    def _retryable(self, error: LLMError) -> bool:
        if isinstance(error, LLMAPIError):
            verdict = error.headers.get("x-should-retry")
            if verdict == "true":
                return True
            if verdict == "false":
                return False
            return error.status_code in self.retry_statuses
        return isinstance(error, LLMConnectionError)
