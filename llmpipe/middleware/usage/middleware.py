"""UsageMiddleware: tokens and cost per model and per tag, and budgets.

Before a call is sent, a budget (if any) reserves the call's estimate and
refuses it with ``UsageLimitExceeded`` when a limit would be passed: no byte
reaches the network. After the call, the tokens the server reported are
recorded (a streamed reply's come from its last usage-bearing chunk, seen
through ``EventStream.observe``) and the budget's hold is settled with them.

Where it goes: outside ``RetryMiddleware``, so a retried call reserves once
and the failed attempts (not billed) cost nothing; inside a cache, so a hit
costs nothing either::

    stack = default_middlewares(config)
    stack.insert_before(RetryMiddleware, UsageMiddleware(budget=Budget(max_tokens=100_000)))

Per-model totals use the model the call asked for (``body["model"]``), which
is also the key of the price table; the reply's model name often carries a
date suffix that a table would not list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from llmpipe import logs
from llmpipe.errors import LLMError, UsageLimitExceeded
from llmpipe.middleware.usage.budget import BudgetLike, Charge, Hold
from llmpipe.middleware.usage.prices import Price, price_for
from llmpipe.middleware.usage.tracker import UsageSnapshot, UsageTracker
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.wire.estimate import CharacterEstimator, Estimator, estimate_function
from llmpipe.wire.usage import TokenCount, UsageWatcher, reply_usage

__all__ = ["UsageMiddleware"]

_REFUSED = "usage budget refused {endpoint} model={model}: {reason}"
_SETTLE_FAILED = "usage budget: settling a call failed ({error_type}: {error}); its hold expires"
_NOTHING = Charge()
_NO_TOKENS = TokenCount(0, 0, 0)
# A budget errs high: a call without max_tokens is assumed to write this many.
_UNBOUNDED_REPLY = 1024


class UsageMiddleware(Middleware):
    """Track usage, price it with ``prices`` and enforce ``budget`` (both optional)."""

    def __init__(
        self,
        budget: BudgetLike | None = None,
        prices: Mapping[str, Price] | None = None,
        *,
        estimator: Estimator | None = None,
    ) -> None:
        table = dict(prices or {})
        for model, price in table.items():
            if not isinstance(price, Price):
                raise TypeError(f"prices[{model!r}] must be a Price, got {type(price).__name__}")
        self.budget = budget
        self.prices: Mapping[str, Price] = table
        self.estimator = (
            estimator
            if estimator is not None
            else CharacterEstimator(completion_allowance=_UNBOUNDED_REPLY)
        )
        self._estimate = estimate_function(self.estimator)
        self._tracker = UsageTracker()
        self._settling: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"UsageMiddleware(budget={self.budget!r}, prices={len(self.prices)} models)"

    def usage(self) -> UsageSnapshot:
        """Totals since creation or the last ``reset``; safe from any thread."""
        return self._tracker.snapshot()

    def reset(self) -> None:
        """Clear the totals. A budget is not reset: it is money spent."""
        self._tracker.reset()

    async def settled(self) -> None:
        """Wait until streams that ended have settled their budget holds."""
        while self._settling:
            await asyncio.gather(*self._settling)

    async def close(self) -> None:
        """Called by the client's ``close()``: let pending settlements finish first.

        The budget stays open: it may be shared, and it is its creator's to close.
        """
        await self.settled()

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        body = request.body
        if body is None:  # GET models: nothing generated, nothing to count
            return await call_next(request)
        model = str(body.get("model", ""))
        price = price_for(self.prices, model)
        hold = None if self.budget is None else await self._reserve(request, model, price)
        try:
            response = await call_next(request)
        except Exception:
            await self._settle(hold, _NOTHING)  # a failed call generated nothing billed
            raise
        except BaseException:  # cancelled: settle in a task, not in the dying one
            self._settle_later(hold, _NOTHING)
            raise
        tag = request.options.tag
        account = _Account(self._tracker, model, None if tag is None else str(tag), price, hold)
        if response.stream is not None:
            response.stream.observe(
                UsageWatcher(lambda usage, _: self._settle_later(hold, account.record(usage)))
            )
        elif response.ok:
            await self._settle(hold, account.record(reply_usage(response)))
        else:
            await self._settle(hold, _NOTHING)
        return response

    async def _reserve(self, request: LLMRequest, model: str, price: Price | None) -> Hold:
        assert self.budget is not None
        estimate = self._estimate(request)
        if price is None and self.budget.limits.max_cost is not None:
            reason = f"no price for model {model!r}; add it (or '*') to prices for a cost budget"
            logs.warning(_REFUSED, endpoint=request.endpoint, model=model, reason=reason)
            raise UsageLimitExceeded(f"call refused, nothing sent: {reason}")
        cost = 0.0
        if price is not None:
            cost = price.cost(estimate.prompt_tokens, estimate.completion_tokens)
        try:
            return await self.budget.reserve(Charge(estimate.total_tokens, cost))
        except UsageLimitExceeded as refused:
            logs.warning(_REFUSED, endpoint=request.endpoint, model=model, reason=refused)
            raise

    async def _settle(self, hold: Hold | None, actual: Charge) -> None:
        if hold is None or self.budget is None:
            return
        try:
            await self.budget.settle(hold, actual)
        except LLMError as error:
            logs.error(_SETTLE_FAILED, error_type=type(error).__name__, error=error)

    def _settle_later(self, hold: Hold | None, actual: Charge) -> None:
        """Settle from a callback (a stream's end) or a cancelled call, as a task."""
        if hold is None:
            return
        task = asyncio.get_running_loop().create_task(self._settle(hold, actual))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)


class _Account:
    """One call's bookkeeping: record what its reply reported, and say what to charge."""

    __slots__ = ("_hold", "_model", "_price", "_tag", "_tracker")

    def __init__(
        self,
        tracker: UsageTracker,
        model: str,
        tag: str | None,
        price: Price | None,
        hold: Hold | None,
    ) -> None:
        self._tracker = tracker
        self._model, self._tag, self._price, self._hold = model, tag, price, hold

    @property
    def hold(self) -> Hold | None:
        return self._hold

    def record(self, used: TokenCount | None) -> Charge:
        """Record what the reply reported and return the budget charge: the
        reported tokens and their cost, or the estimate when the reply reported
        none (a budget never under-counts)."""
        if used is None:
            self._tracker.record(self._model, self._tag, _NO_TOKENS, 0.0)
            return self._hold.charge if self._hold is not None else _NOTHING
        cost = 0.0
        if self._price is not None:
            cost = self._price.cost(used.prompt_tokens, used.completion_tokens)
        self._tracker.record(self._model, self._tag, used, cost)
        return Charge(used.total_tokens, cost)
