"""RetryMiddleware: re-send a failed call while its policy says so.

It must sit outside ``ClassifyErrorsMiddleware`` so it sees typed errors. The
decision (and the delay) is the policy's; this layer waits and re-sends the
same frozen request, unless the wait would pass the call's deadline or the
client's retry budget is spent; then the error is raised with the reason in
``not_retried`` (on a copy: the error raised inside may be shared). Each
attempt's number goes to ``request.context.attempts`` for the layers outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from llmpipe import logs
from llmpipe.errors import LLMError
from llmpipe.middleware.retry.budget import RetryBudget
from llmpipe.middleware.retry.policy import ExponentialBackoff, NotRetried, RetryPolicy
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["RetryMiddleware"]

_RETRY_MESSAGE = "retrying {endpoint} in {delay:.2f} s (retry {retry}) after: {error}"


class RetryMiddleware(Middleware):
    """Retry per ``policy``; ``sleep`` is injectable for tests of the schedule."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.policy: RetryPolicy = policy if policy is not None else ExponentialBackoff()
        self.budget = budget
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RetryMiddleware({self.policy!r}, budget={self.budget!r})"

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        context = request.context
        budget = self.budget
        if budget is not None:
            budget.deposit()
        retries = 0
        while True:
            context.attempts = retries + 1
            try:
                return await call_next(request)
            except LLMError as error:
                delay = self.policy.retry_delay(request, error, retries)
                if delay is None:
                    raise
                if isinstance(delay, NotRetried):
                    raise error.not_retried_because(delay.reason) from error.__cause__
                deadline = request.options.deadline_at
                if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
                    why = f"waiting {delay:.2f} s would pass the call's deadline"
                    raise error.not_retried_because(why) from error.__cause__
                if budget is not None and not budget.withdraw():
                    why = "the client's retry budget is spent (too many failures)"
                    raise error.not_retried_because(why) from error.__cause__
                retries += 1
                logs.warning(
                    _RETRY_MESSAGE,
                    endpoint=request.endpoint,
                    delay=delay,
                    retry=retries,
                    error=error,
                )
                await self._sleep(delay)
