"""The built-in middlewares, and the default stack.

Default order, outermost first, and why::

    LoggingMiddleware         sees each call once, as the caller does (retries log their own line)
    CountingMiddleware        counts a retried call once, adding its attempts from the context
    RetryMiddleware           re-sends on typed, retryable errors
    ClassifyErrorsMiddleware  turns statuses into the error tree retry reasons about
    SessionMiddleware         recycles the pool between calls, next to the transport
"""

from __future__ import annotations

import importlib

from llmpipe.config import LLMConfig
from llmpipe.middleware.classify import ClassifyErrorsMiddleware
from llmpipe.middleware.counting import CountingMiddleware, Stats
from llmpipe.middleware.logging import LoggingMiddleware
from llmpipe.middleware.retry.budget import RetryBudget
from llmpipe.middleware.retry.middleware import RetryMiddleware
from llmpipe.middleware.retry.policy import ExponentialBackoff
from llmpipe.middleware.session import SessionMiddleware
from llmpipe.pipeline import MiddlewareStack

__all__ = [
    "ClassifyErrorsMiddleware",
    "CountingMiddleware",
    "LoggingMiddleware",
    "RetryMiddleware",
    "SessionMiddleware",
    "Stats",
    "default_middlewares",
]


def default_middlewares(config: LLMConfig) -> MiddlewareStack:
    """A fresh default stack for ``config`` (new state: never share one between clients)."""
    policy = ExponentialBackoff(
        max_retries=config.max_retries,
        base_delay=config.retry_delay,
        max_delay=config.max_retry_delay,
        jitter=config.retry_jitter,
    )
    budget = None if config.retry_budget is None else RetryBudget(ratio=config.retry_budget)
    return MiddlewareStack(
        [
            LoggingMiddleware(),
            CountingMiddleware(),
            RetryMiddleware(policy, budget=budget),
            ClassifyErrorsMiddleware(),
            SessionMiddleware(config.recycle_after),
        ]
    )


# Optional middlewares, loaded on first use; ``llmpipe`` reuses this table.
LAZY_MIDDLEWARES = {
    "CacheMiddleware": "llmpipe.middleware.cache.middleware",
    "ConcurrencyLimitMiddleware": "llmpipe.middleware.concurrency",
    "OpenTelemetryMiddleware": "llmpipe.observability.otel",
    "RateLimitMiddleware": "llmpipe.middleware.ratelimit.middleware",
    "UsageMiddleware": "llmpipe.middleware.usage.middleware",
}


def __getattr__(name: str) -> object:
    """The optional middlewares load on first use (PEP 562)."""
    module = LAZY_MIDDLEWARES.get(name)
    if module is None:
        raise AttributeError(f"module 'llmpipe.middleware' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
