"""RetryMiddleware: re-send a failed call while its policy says so.

It must sit outside ``ClassifyErrorsMiddleware`` so it sees typed errors. The
decision (and the delay) is the policy's; this layer waits and re-sends the
same frozen request, unless the wait would pass the call's deadline or the
client's retry budget is spent; then the error is raised with the reason in
``not_retried`` (on a copy: the error raised inside may be shared). Each
attempt's number goes to ``request.context.attempts`` for the layers outside;
the error a retried call ends with says how many attempts it made over how
long (``attempts``, ``elapsed``).

Settings it is not given are the client's: the client hands its
``LLMConfig`` to ``use_config``, which fills the policy's unset numbers
(``ExponentialBackoff.with_config``) and, unless ``budget=`` was given
(``None`` included), makes the config's ``retry_budget``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from llmpipe import logs
from llmpipe.errors import LLMError
from llmpipe.middleware.retry.budget import RetryBudget
from llmpipe.middleware.retry.policy import ExponentialBackoff, NotRetried, RetryPolicy
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse

if TYPE_CHECKING:
    from llmpipe.config import LLMConfig

__all__ = ["FROM_CONFIG", "RetryMiddleware"]

_RETRY_MESSAGE = "retrying {endpoint} in {delay:.2f} s (retry {retry}) after: {error}"
_now = time.monotonic


class _FromConfig:
    def __repr__(self) -> str:
        return "FROM_CONFIG"


FROM_CONFIG: Final[Any] = _FromConfig()
"""``budget=``'s default: the client's ``LLMConfig.retry_budget``."""


class RetryMiddleware(Middleware):
    """Retry per ``policy``; ``sleep`` is injectable for tests of the schedule."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        budget: RetryBudget | None = FROM_CONFIG,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.policy: RetryPolicy = policy if policy is not None else ExponentialBackoff()
        self._budget_from_config = budget is FROM_CONFIG
        self.budget: RetryBudget | None = None if self._budget_from_config else budget
        self._sleep = sleep

    def use_config(self, config: LLMConfig) -> None:
        """Take from the client's config what this layer was not given.

        A policy with a ``with_config(config)`` method (``ExponentialBackoff``
        and its subclasses) is replaced by what that returns. The first
        client's config wins: a layer shared by two clients keeps it.
        """
        with_config = getattr(self.policy, "with_config", None)
        if with_config is not None:
            self.policy = with_config(config)
        if self._budget_from_config:
            self._budget_from_config = False
            if config.retry_budget is not None:
                self.budget = RetryBudget(ratio=config.retry_budget)

    def __repr__(self) -> str:
        return f"RetryMiddleware({self.policy!r}, budget={self.budget!r})"

    def wrap(self, call_next: Handler) -> Handler:
        """The layer composed once with ``call_next`` (see ``llmpipe.pipeline``).

        Every call crosses it and most succeed at once, so the way in is kept
        short: one clock read, given to the budget when it reads the same
        clock. The policy and the budget are read per call, as ``use_config``
        may replace them after the pipeline is built.
        """

        # named as the layer's call: a retry's log record names the function that wrote it
        async def __call__(request: LLMRequest) -> LLMResponse:
            started = _now()
            budget = self.budget
            if budget is not None:
                budget.deposit(started if budget.clock is _now else None)
            context = request.context
            retries = 0
            while True:
                context.attempts = retries + 1
                try:
                    return await call_next(request)
                except LLMError as error:
                    delay = self.policy.retry_delay(request, error, retries)
                    if delay is None:
                        if not retries:
                            raise
                        raise _counted(error, retries, started) from error.__cause__
                    if isinstance(delay, NotRetried):
                        why = delay.reason
                        raise _counted(error, retries, started, why) from error.__cause__
                    deadline = request.options.deadline_at
                    if (
                        deadline is not None
                        and asyncio.get_running_loop().time() + delay >= deadline
                    ):
                        why = f"waiting {delay:.2f} s would pass the call's deadline"
                        raise _counted(error, retries, started, why) from error.__cause__
                    if budget is not None and not budget.withdraw():
                        why = "the client's retry budget is spent (too many failures)"
                        raise _counted(error, retries, started, why) from error.__cause__
                    retries += 1
                    logs.warning(
                        _RETRY_MESSAGE,
                        endpoint=request.endpoint,
                        delay=delay,
                        retry=retries,
                        error=error,
                    )
                    await self._sleep(delay)

        return __call__

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)


def _counted(error: LLMError, retries: int, started: float, why: str | None = None) -> LLMError:
    """The error a call ends with: a copy saying the attempts it made, when it
    was retried, and why it was not retried again, when it says why."""
    if retries:
        error = error.after_attempts(retries + 1, _now() - started)
    return error if why is None else error.not_retried_because(why)
