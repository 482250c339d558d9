"""Usage tracking and budgets: what ``UsageMiddleware`` counts, prices and limits.

``tracker`` keeps the totals, ``prices`` turns tokens into money,
``estimate`` guesses a call's tokens before it is sent, ``budget`` holds the
limits (in process), and ``redis_budget`` shares them between processes.
"""

from llmpipe.usage.budget import Budget, BudgetLike, BudgetLimits, Charge, Hold, Spent
from llmpipe.usage.estimate import Estimator, TokenEstimate, UsageEstimator
from llmpipe.usage.prices import ANY_MODEL, Price, price_for
from llmpipe.usage.redis_budget import RedisBudget
from llmpipe.usage.tracker import UsageSnapshot, UsageTotals, UsageTracker, reported_usage

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
    "UsageSnapshot",
    "UsageTotals",
    "UsageTracker",
    "price_for",
    "reported_usage",
]
