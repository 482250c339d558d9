"""Retrying, in three parts (tower's ``retry/{policy, budget}``).

``policy`` decides ("retry after this long, or not") and never sleeps;
``budget`` caps retries as a share of calls, so an outage is not multiplied;
``middleware`` is the layer that waits and re-sends the same frozen request.
"""

from llmpipe.middleware.retry.budget import RetryBudget
from llmpipe.middleware.retry.middleware import RetryMiddleware
from llmpipe.middleware.retry.policy import (
    RETRY_STATUSES,
    ExponentialBackoff,
    NotRetried,
    RetryPolicy,
    parse_retry_after,
)

__all__ = [
    "RETRY_STATUSES",
    "ExponentialBackoff",
    "NotRetried",
    "RetryBudget",
    "RetryMiddleware",
    "RetryPolicy",
    "parse_retry_after",
]
