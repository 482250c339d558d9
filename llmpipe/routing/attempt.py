"""One request to one deployment, and what it taught the router.

``send_to`` never raises an ``LLMError``: it returns an ``Outcome`` (the
reply or the error, and the failure's class), so the router and a hedged
race weigh both the same way. What the reply says goes to the deployment's
breaker, latency estimate and concurrency limit, and a good reply's latency
to the alias's hedger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import attrs

from llmpipe import logs
from llmpipe.errors import LLMAPIError, LLMError, LLMTimeoutError
from llmpipe.middleware.retry.policy import parse_retry_after
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.routing.fallback import Failure, classify_error, classify_reply
from llmpipe.routing.hedge import Hedger
from llmpipe.routing.replica import Replica

__all__ = ["OnChange", "Outcome", "Settle", "send_to"]

OnChange = Callable[[Replica, float], None]
"""A breaker changed state: ``(replica, seconds it is out)``, 0 when it closed."""

_OPENED = (
    "router: {name} is out for {seconds:.3g} s after {failures} failure(s), the last: {reason}"
)
_CLOSED = "router: {name} answers again; its breaker is closed"

_ANSWERED = frozenset({Failure.CLIENT, Failure.CONTEXT_LENGTH, Failure.CONTENT_FILTER})


@attrs.define(slots=True)
class Outcome:
    """How one request to ``replica`` ended: ``response`` or ``error``."""

    replica: Replica
    response: LLMResponse | None
    error: LLMError | None
    failure: Failure | None
    elapsed: float

    def deliver(self) -> LLMResponse:
        """The reply, or the error raised."""
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response

    def discard(self) -> None:
        """A reply not used (a lost race): close its stream, if it has one."""
        response = self.response
        if response is not None and response.stream is not None and not response.stream.finished:
            task = asyncio.get_running_loop().create_task(response.stream.aclose())
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()


class Settle:
    """What a finished request does to its replica's state (breaker, load, limit)."""

    __slots__ = ("filtered_choices", "hedger", "on_closed", "on_opened")

    def __init__(
        self,
        *,
        hedger: Hedger | None,
        filtered_choices: bool,
        on_opened: OnChange,
        on_closed: OnChange,
    ) -> None:
        self.hedger = hedger
        self.filtered_choices = filtered_choices
        self.on_opened = on_opened
        self.on_closed = on_closed

    def answered(
        self, replica: Replica, outcome: Outcome, stream: bool, in_flight: int, now: float
    ) -> None:
        """The deployment answered: it is alive, whatever the answer said."""
        if replica.breaker.success():
            replica.load.reset(outcome.elapsed, now)  # back: its failures say nothing now
            logs.info(_CLOSED, name=replica.name)
            self.on_closed(replica, 0.0)
        else:
            replica.load.observe(outcome.elapsed, now)
        limit = replica.limit
        response = outcome.response
        if limit is not None:
            limit.update(outcome.elapsed, in_flight, dropped=False)
            if response is not None:
                limit.read_headers(response.headers, outcome.elapsed)
        if outcome.failure is None and self.hedger is not None:
            self.hedger.observe(stream, outcome.elapsed)

    def failed(self, replica: Replica, outcome: Outcome, in_flight: int, now: float) -> None:
        """The deployment failed the request: a strike against it."""
        replica.failures += 1
        wait = None
        if outcome.failure is Failure.RATE_LIMITED:
            if outcome.response is not None:
                wait = parse_retry_after(outcome.response.headers)
            elif isinstance(outcome.error, LLMAPIError):
                wait = parse_retry_after(outcome.error.headers)
        breaker = replica.breaker
        if breaker.failure(now, wait):
            seconds = breaker.open_until - now
            logs.warning(
                _OPENED,
                name=replica.name,
                seconds=seconds,
                failures=breaker.failures,
                reason=outcome.failure,
            )
            self.on_opened(replica, seconds)
        limit = replica.limit
        if limit is not None:
            dropped = outcome.failure is Failure.RATE_LIMITED or isinstance(
                outcome.error, LLMTimeoutError
            )
            limit.update(outcome.elapsed, in_flight, dropped=dropped)


async def send_to(replica: Replica, request: LLMRequest, *, probe: bool, settle: Settle) -> Outcome:
    """Send ``request`` to ``replica`` through its own pipeline (for a stream, up
    to the first event) and settle the result."""
    loop = asyncio.get_running_loop()
    routed = replica.routed(request)
    replica.sent()
    started = loop.time()
    try:
        response = await replica.pipeline(routed)
    except LLMError as error:
        now = loop.time()
        outcome = Outcome(replica, None, error, classify_error(error), now - started)
        _settle(settle, replica, outcome, request.stream, now)
        replica.done()
        return outcome
    except BaseException:
        replica.done()
        if probe:
            replica.breaker.abandon(loop.time())
        raise
    now = loop.time()
    failure = classify_reply(response, filtered_choices=settle.filtered_choices)
    outcome = Outcome(replica, response, None, failure, now - started)
    _settle(settle, replica, outcome, request.stream, now)
    stream = response.stream
    if stream is not None and not stream.finished:
        replica.watch(stream)
    else:
        replica.done()
    return outcome


def _settle(settle: Settle, replica: Replica, outcome: Outcome, stream: bool, now: float) -> None:
    failure = outcome.failure
    in_flight = replica.in_flight
    if failure is None or failure in _ANSWERED:
        settle.answered(replica, outcome, stream, in_flight, now)
    elif failure is not Failure.OTHER:
        settle.failed(replica, outcome, in_flight, now)
