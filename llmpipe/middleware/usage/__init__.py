"""Usage tracking and budgets: ``UsageMiddleware`` counts, prices and limits.

``middleware`` is the layer; ``tracker`` keeps the totals, ``prices`` turns
tokens into money, ``budget`` holds the limits (in process), and
``redis_budget`` shares them between processes. The tokens a call is guessed
to cost, and the tokens its reply reports, come from ``llmpipe.wire``
(``estimate`` and ``usage``), which rate limits and counting read too.
Importing this package does not import ``redis``.
"""

from llmpipe.middleware.usage.budget import Budget, BudgetLike, BudgetLimits, Charge, Hold, Spent
from llmpipe.middleware.usage.middleware import UsageMiddleware
from llmpipe.middleware.usage.prices import ANY_MODEL, Price, price_for
from llmpipe.middleware.usage.redis_budget import RedisBudget
from llmpipe.middleware.usage.tracker import UsageSnapshot, UsageTotals, UsageTracker
from llmpipe.wire.estimate import Estimator, TokenEstimate, UsageEstimator

__all__ = [
    "ANY_MODEL",
    "Budget",
    "BudgetLike",
    "BudgetLimits",
    "Charge",
    "Estimator",
    "Hold",
    "Price",
    "RedisBudget",
    "Spent",
    "TokenEstimate",
    "UsageEstimator",
    "UsageMiddleware",
    "UsageSnapshot",
    "UsageTotals",
    "UsageTracker",
    "price_for",
]
