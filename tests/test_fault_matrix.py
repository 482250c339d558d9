"""The fault matrix: every fault the test server can inject, against the sync
and the async client, streamed and not, with one set of checks for all.

Each case is injected either once (a retryable fault is then recovered from)
or on every attempt (its error is raised after the retries), and checked
for: the exact documented class, or the proper answer; the time taken, within
`bound()`; the attempts the server saw and the client counted; the pool back
to idle (no call holding a connection, no broken connection left open); and
no warning of any kind, from any thread.

Faults a `Fault` can script are scripted; the few it cannot (an RST, a body
cut off mid-way, a huge body, a slow drip) come from `Chaos.only(kind)`,
which injects exactly that fault on the first `times` requests. Focused tests
of some rows, checking more than this matrix does (partial replies, the
measured schedule), live in test_stream_faults.py, test_retry.py and
test_safety.py.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import llmpipe
from llmpipe import (
    LLM,
    AsyncLLM,
    InternalServerError,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    RateLimitError,
    StreamTruncatedError,
)
from llmpipe.testing import Fault, LLMServer
from llmpipe.testing.chaos import Chaos, ChaosKind

# Small on purpose: every bound below is computed from these.
TIMEOUT = 0.5
RETRY_DELAY = 0.01
MAX_RETRY_DELAY = 0.05
MAX_RETRIES = 2
ATTEMPTS = MAX_RETRIES + 1
MAX_RESPONSE_BYTES = 1024 * 1024
SLOW_SECONDS = 0.2
STALL = 5.0  # longer than every timeout here; the server ends it when it stops
SLACK = 0.5  # thread hops, loopback, a loaded CI machine

PLAIN, STREAM = (False,), (True,)
BOTH = (False, True)
K = ChaosKind
RETRIED, FINAL = True, False  # FINAL: the first outcome is the call's


@attrs.frozen
class Case:
    """One fault, and what the client must do about it."""

    name: str
    kind: ChaosKind  # the chaos kind it stands for
    raises: type[LLMError] | None  # None: the proper answer arrives anyway
    retried: bool
    modes: tuple[bool, ...]  # stream=False, stream=True
    fault: Fault | None = None  # None: injected by Chaos.only(kind)
    stalls: bool = False  # each faulty attempt waits out the timeout
    retry_after: float | None = None  # the server's wait hint, in seconds
    extra: float = 0.0  # seconds a proper answer takes

    @property
    def echoes(self) -> bool:
        """Whether the server repeats the key in its error (which must be masked)."""
        return self.fault is not None and self.fault.echo_key


def html(status: int) -> Fault:
    return Fault(status=status, body=f"<html><body><h1>{status}</h1><hr>nginx</body></html>")


# A wait within the cap: one beyond it is not retried early (test_retry.py).
TOO_MANY = Fault(status=429, headers={"Retry-After": "1", "retry-after-ms": "40"})
STALLED = Fault(delay=STALL)
STALLED_MID = Fault(stall_after_events=2, delay=STALL)
DROP_AT_0 = Fault(drop_after_events=0)
DROP_AT_2 = Fault(drop_after_events=2)
ERROR_AT_0 = Fault(error_after_events=0, status=503)
ERROR_AT_2 = Fault(error_after_events=2, status=503)
TEXT = Fault(body="Service unavailable", content_type="text/plain")
EMPTY = Fault(body=b"", content_type="application/json")
# The server repeats the key: in a JSON error, in an error event, cut across two chunks.
ECHO_JSON = Fault(status=503, echo_key=True)
ECHO_AT_0 = Fault(error_after_events=0, status=503, echo_key=True)
ECHO_SPLIT_AT_0 = Fault(error_after_events=0, status=503, echo_key=True, split_echo=True)
ECHO_SPLIT_AT_2 = Fault(error_after_events=2, status=503, echo_key=True, split_echo=True)
CASES = [
    Case(
        "429-retry-after", K.RATE_LIMIT, RateLimitError, RETRIED, BOTH, TOO_MANY, retry_after=0.04
    ),
    *[
        Case(f"{s}-json", K.SERVER_ERROR, InternalServerError, RETRIED, BOTH, Fault(status=s))
        for s in (500, 502, 503, 504)
    ],
    *[
        Case(f"{s}-html", K.HTML_ERROR, InternalServerError, RETRIED, BOTH, html(s))
        for s in (502, 503)
    ],
    Case("close-before-headers", K.RESET, LLMConnectionError, RETRIED, BOTH, Fault(drop=True)),
    Case("reset-before-headers", K.RESET, LLMConnectionError, RETRIED, BOTH),
    Case("close-mid-body", K.CLOSE_MID_BODY, LLMConnectionError, RETRIED, PLAIN),
    Case("stall", K.STALL, LLMTimeoutError, RETRIED, BOTH, STALLED, stalls=True),
    Case("stall-mid-stream", K.STALL, LLMTimeoutError, FINAL, STREAM, STALLED_MID, stalls=True),
    Case("drop-at-0", K.DROP_BEFORE_FIRST_EVENT, LLMConnectionError, RETRIED, STREAM, DROP_AT_0),
    Case("drop-at-2", K.TRUNCATED_STREAM, StreamTruncatedError, FINAL, STREAM, DROP_AT_2),
    Case("error-event-at-0", K.ERROR_EVENT, InternalServerError, RETRIED, STREAM, ERROR_AT_0),
    Case("error-event-at-2", K.ERROR_EVENT, InternalServerError, FINAL, STREAM, ERROR_AT_2),
    Case("echo-key-json", K.SERVER_ERROR, InternalServerError, RETRIED, BOTH, ECHO_JSON),
    Case("echo-key-event-at-0", K.ERROR_EVENT, InternalServerError, RETRIED, STREAM, ECHO_AT_0),
    Case(
        "echo-key-split-at-0", K.ERROR_EVENT, InternalServerError, RETRIED, STREAM, ECHO_SPLIT_AT_0
    ),
    Case("echo-key-split-at-2", K.ERROR_EVENT, InternalServerError, FINAL, STREAM, ECHO_SPLIT_AT_2),
    Case("invalid-json", K.INVALID_JSON, LLMResponseError, FINAL, BOTH, Fault(malformed=True)),
    Case("text-plain", K.WRONG_CONTENT_TYPE, LLMResponseError, FINAL, BOTH, TEXT),
    Case("empty-body", K.EMPTY_BODY, LLMResponseError, FINAL, BOTH, EMPTY),
    Case("huge-body", K.HUGE_BODY, LLMResponseError, FINAL, BOTH),
    Case("slow-byte-by-byte", K.SLOW, None, FINAL, BOTH, extra=SLOW_SECONDS),
]


@attrs.frozen
class Run:
    """One cell of the matrix: a case, how often it strikes, which client, which mode."""

    case: Case
    times: int  # faulty attempts
    sync: bool
    stream: bool

    @property
    def raises(self) -> type[LLMError] | None:
        recovers = self.case.retried and self.times <= MAX_RETRIES
        return None if recovers else self.case.raises

    @property
    def attempts(self) -> int:
        return min(self.times + 1, ATTEMPTS) if self.case.retried else 1

    def bound(self) -> float:
        """timeout x stalled attempts + the backoff waits + the answer's own time + slack."""
        case = self.case
        retries = self.attempts - 1
        waits = [
            min(MAX_RETRY_DELAY, case.retry_after or RETRY_DELAY * 2**k) for k in range(retries)
        ]
        stalled = min(self.times, self.attempts) if case.stalls else 0
        answered = case.extra if self.raises is None else 0.0
        return TIMEOUT * stalled + sum(waits) + answered + SLACK


def runs() -> list[Any]:
    params = []
    for case in CASES:
        for times in (1, ATTEMPTS) if case.retried else (1,):
            for sync in (False, True):
                for stream in case.modes:
                    run = Run(case, times, sync, stream)
                    strikes = "once" if times == 1 else "always"
                    client = "sync" if sync else "async"
                    mode = "stream" if stream else "plain"
                    params.append(pytest.param(run, id=f"{case.name}-{strikes}-{client}-{mode}"))
    return params


@attrs.define
class Outcome:
    """What one call did, measured before the client closed."""

    text: str | None = None
    error: BaseException | None = None
    elapsed: float = 0.0
    request_count: int = -1
    attempts: int = -1
    in_flight: int = -1


KEY = "sk-matrix-SECRET-4242"  # must never surface, whatever the fault
MASKED_ECHO = "The request's key was ***."  # what an echoing fault's error must become


def config(server: LLMServer) -> LLMConfig:
    return LLMConfig(
        base_url=server.base_url,
        api_key=KEY,
        timeout=TIMEOUT,
        retry_delay=RETRY_DELAY,
        max_retry_delay=MAX_RETRY_DELAY,
        max_retries=MAX_RETRIES,
        max_response_bytes=MAX_RESPONSE_BYTES,
    )


def call_sync(server: LLMServer, stream: bool, content: str) -> Outcome:
    outcome = Outcome()
    with LLM(config(server)) as llm:
        started = time.perf_counter()
        try:
            messages = [{"role": "user", "content": content}]
            if stream:
                reply = llm.chat_completion(messages, stream=True).collect()
            else:
                reply = llm.chat_completion(messages)
            outcome.text = reply.choices[0].message.content
        except LLMError as error:
            outcome.error = error
        outcome.elapsed = time.perf_counter() - started
        outcome.request_count = llm.get_request_count()
        outcome.attempts = llm.get_stats().attempts
        outcome.in_flight = llm.async_client.transport.in_flight
    return outcome


async def call_async(server: LLMServer, stream: bool, content: str) -> Outcome:
    outcome = Outcome()
    async with AsyncLLM(config(server)) as llm:
        started = time.perf_counter()
        try:
            messages = [{"role": "user", "content": content}]
            if stream:
                reply = await (await llm.chat_completion(messages, stream=True)).collect()
            else:
                reply = await llm.chat_completion(messages)
            outcome.text = reply.choices[0].message.content
        except LLMError as error:
            outcome.error = error
        outcome.elapsed = time.perf_counter() - started
        outcome.request_count = llm.get_request_count()
        outcome.attempts = llm.get_stats().attempts
        outcome.in_flight = llm.transport.in_flight
    return outcome


def wait_until(condition: Callable[[], bool], within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def armed_server(run: Run) -> LLMServer:
    case = run.case
    if case.fault is not None:
        return LLMServer()
    shape = {"huge_bytes": 64 * 1024 * 1024, "slow_seconds": SLOW_SECONDS}
    return LLMServer(chaos=Chaos.only(case.kind, times=run.times, **shape))


@pytest.mark.parametrize("run", runs())
def test_fault_gives_the_documented_outcome_promptly_and_leaves_nothing_behind(run: Run) -> None:
    content = f"matrix {run.case.name}"
    server = armed_server(run)
    logged: list[str] = []
    llmpipe.enable_logging("DEBUG", sink=logged.append)
    with warnings.catch_warnings(record=True) as caught, server.run_in_thread():
        warnings.simplefilter("always")
        if run.case.fault is not None:
            server.add_faults(*[run.case.fault] * run.times)
        if run.sync:
            outcome = call_sync(server, run.stream, content)
        else:
            outcome = asyncio.run(call_async(server, run.stream, content))
        closed = wait_until(lambda: server.connections == 0)
        gc.collect()
    llmpipe.disable_logging()

    if run.raises is None:
        assert outcome.error is None, outcome.error
        assert outcome.text == f"Echo: {content}"
    else:
        assert type(outcome.error) is run.raises, outcome.error
    assert outcome.elapsed < run.bound()
    assert len(server.requests) == run.attempts
    assert outcome.attempts == run.attempts
    assert outcome.request_count == 1
    assert outcome.in_flight == 0
    assert closed, f"{server.connections} connection(s) still open after the client closed"
    assert [str(w.message) for w in caught] == []
    assert logged, "DEBUG logging was on: the call must have left records"
    error = outcome.error
    shown = [*logged, str(error), repr(error), repr(getattr(error, "body", None))]
    assert not [text for text in shown if KEY in text]
    if run.case.echoes:  # the key was sent back, and arrived masked
        assert [text for text in shown if MASKED_ECHO in text]
    assert all(r.headers.get("Authorization") == f"Bearer {KEY}" for r in server.requests)


def test_the_matrix_covers_every_kind_of_chaos() -> None:
    assert {case.kind for case in CASES} == set(ChaosKind)


# The call fails in the client, after the pipeline has returned a 200: it
# still counts as a failure, as a huge body (failing in the transport) does.
@pytest.mark.parametrize(
    "fault", [Fault(malformed=True), TEXT, EMPTY], ids=["invalid-json", "text-plain", "empty"]
)
async def test_a_reply_that_cannot_be_read_counts_as_a_failed_call(
    llm_server: LLMServer, client: AsyncLLM, fault: Fault
) -> None:
    llm_server.add_faults(fault)
    with pytest.raises(LLMResponseError):
        await client.chat_completion([{"role": "user", "content": "hello"}])
    assert client.get_stats().failures == 1
