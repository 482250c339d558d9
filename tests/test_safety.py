"""Retries that are safe at scale, and limits on what a server may send."""

import asyncio
import time

import attrs
import pytest

from llmpipe import (
    AsyncLLM,
    InternalServerError,
    LLMConfig,
    LLMResponseError,
    LLMTimeoutError,
    RetryMiddleware,
)
from llmpipe.middleware.retry.budget import RetryBudget
from llmpipe.testing import Fault

HELLO = [{"role": "user", "content": "hello"}]


async def test_same_idempotency_key_on_every_attempt_of_one_call(llm_server, client):
    llm_server.add_faults(Fault(status=503), Fault(status=503))
    await client.chat_completion(HELLO)
    await client.chat_completion(HELLO)
    keys = [r.headers.get("Idempotency-Key") for r in llm_server.requests]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert all(k and len(k) == 32 for k in keys)


async def test_idempotency_header_name_is_configurable_and_can_be_off(llm_server, config):
    async with AsyncLLM(attrs.evolve(config, idempotency_header="X-Dedup")) as llm:
        await llm.chat_completion(HELLO)
    async with AsyncLLM(attrs.evolve(config, idempotency_header=None)) as llm:
        await llm.chat_completion(HELLO)
    first, second = (r.headers for r in llm_server.requests)
    assert "X-Dedup" in first
    assert "Idempotency-Key" not in first
    assert "Idempotency-Key" not in second


async def test_retry_that_would_pass_the_deadline_is_not_attempted(llm_server, config):
    llm_server.add_faults(Fault(status=503), Fault(status=503))
    slow_retries = attrs.evolve(config, retry_delay=1.0, max_retry_delay=5)
    started = time.monotonic()
    async with AsyncLLM(slow_retries) as llm:
        with pytest.raises(InternalServerError) as caught:
            await llm.chat_completion(HELLO, deadline=0.5)
    assert time.monotonic() - started < 0.5
    assert len(llm_server.requests) == 1
    assert "would pass the call's deadline" in str(caught.value)


async def test_deadline_covers_attempts_and_backoff_together(llm_server, config):
    llm_server.add_faults(*[Fault(delay=5)] * 5)
    tight = attrs.evolve(config, timeout=0.3, deadline=0.8, retry_delay=0.05, max_retries=10)
    started = time.monotonic()
    async with AsyncLLM(tight) as llm:
        with pytest.raises(LLMTimeoutError):
            await llm.chat_completion(HELLO)
    assert time.monotonic() - started < 0.8 + 0.25


async def test_deadline_covers_the_stream_body(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=2, delay=5))
    stream = await client.chat_completion(HELLO, stream=True, deadline=0.5, idle_timeout=10)
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="deadline passed mid-stream"):
        await stream.collect()
    assert time.monotonic() - started < 0.75


def test_budget_allows_its_reserve_then_a_ratio_of_calls():
    now = [0.0]
    budget = RetryBudget(ratio=0.5, min_per_second=0.2, window=10, clock=lambda: now[0])
    assert budget.reserve == 2
    spent = sum(budget.withdraw() for _ in range(5))
    assert spent == 2
    for _ in range(4):
        budget.deposit()
    assert [budget.withdraw() for _ in range(3)] == [True, True, False]


def test_budget_forgets_calls_and_retries_outside_its_window():
    now = [0.0]
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10, clock=lambda: now[0])
    assert budget.withdraw()
    assert not budget.withdraw()
    now[0] = 11.0
    assert budget.withdraw()


def test_budget_lets_each_slots_calls_leave_the_window_in_turn():
    now = [0.0]
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window=10, clock=lambda: now[0])
    for moment in (0.0, 0.5, 0.9, 1.5):  # three calls in the first second, one in the second
        now[0] = moment
        budget.deposit()
    seen = []
    for moment in (9.9, 10.2, 10.9, 11.1):
        now[0] = moment
        seen.append(budget.available)
    assert seen == [4.0, 1.0, 1.0, 0.0]


def test_budget_rejects_nonsense_settings():
    with pytest.raises(ValueError, match="RetryBudget"):
        RetryBudget(ratio=-1)


async def test_spent_budget_raises_the_underlying_error_without_retrying(llm_server, config):
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10)  # one retry in all
    llm_server.add_faults(*[Fault(status=503)] * 10)
    async with AsyncLLM(config) as llm:
        stack = list(llm.pipeline.middlewares)
    from llmpipe import default_middlewares

    stack = default_middlewares(config).replace(
        RetryMiddleware, RetryMiddleware(llm.pipeline.find(RetryMiddleware).policy, budget=budget)
    )
    async with AsyncLLM(config, stack) as llm:
        with pytest.raises(InternalServerError) as first:
            await llm.chat_completion(HELLO, max_retries=1)
        with pytest.raises(InternalServerError) as second:
            await llm.chat_completion(HELLO, max_retries=1)
    assert first.value.not_retried is None
    assert "retry budget is spent" in str(second.value)
    assert len(llm_server.requests) == 3


async def test_reply_beyond_max_response_bytes_is_refused(llm_server, config):
    huge = {"choices": [{"message": {"role": "assistant", "content": "x" * 5000}}]}
    llm_server.add_faults(Fault(status=200, body=huge))
    async with AsyncLLM(attrs.evolve(config, max_response_bytes=2048)) as llm:
        with pytest.raises(LLMResponseError, match="max_response_bytes=2048"):
            await llm.chat_completion(HELLO)
        assert llm.transport.in_flight == 0
        reply = await llm.chat_completion(HELLO)  # a fresh connection serves the next call
    assert reply.choices[0].message.content == "Echo: hello"


async def test_stream_beyond_max_response_bytes_is_refused(llm_server, config):
    async with AsyncLLM(attrs.evolve(config, max_response_bytes=1024)) as llm:
        long_prompt = [{"role": "user", "content": " ".join(["word"] * 400)}]

        async def read_all():
            stream = await llm.chat_completion(long_prompt, stream=True)
            return await stream.collect()

        with pytest.raises(LLMResponseError, match="max_response_bytes"):
            await read_all()
        assert llm.transport.in_flight == 0


def test_invalid_limits_are_rejected_at_construction():
    with pytest.raises(ValueError, match=r"LLMConfig\.max_response_bytes"):
        LLMConfig(max_response_bytes=10)
    with pytest.raises(ValueError, match=r"LLMConfig\.deadline"):
        LLMConfig(deadline=0)
    with pytest.raises(ValueError, match=r"LLMConfig\.verify_tls"):
        LLMConfig(verify_tls="no")


async def test_turning_tls_verification_off_is_logged_as_a_warning():
    import llmpipe

    lines: list[str] = []
    llmpipe.enable_logging("WARNING", sink=lines.append)
    try:
        llm = AsyncLLM(LLMConfig(base_url="https://127.0.0.1:1", verify_tls=False))
        await llm.close()
    finally:
        llmpipe.disable_logging()
    assert any("TLS certificate verification is OFF" in line for line in lines)


async def until(condition, within=5.0):
    """Poll ``condition`` on the loop until it holds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {condition}")
        await asyncio.sleep(0.005)


async def test_cancelled_call_releases_its_connection_and_client_stays_usable(llm_server, client):
    llm_server.add_faults(Fault(delay=5))
    task = asyncio.create_task(client.chat_completion(HELLO))
    await until(lambda: len(llm_server.requests) == 1)  # the call is at the server
    assert client.transport.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.transport.in_flight == 0
    reply = await client.chat_completion(HELLO)
    assert reply.choices[0].message.content == "Echo: hello"


async def test_asyncio_timeout_during_retry_sleep_leaves_client_usable(llm_server, config):
    llm_server.add_faults(Fault(status=503))
    async with AsyncLLM(attrs.evolve(config, retry_delay=5, max_retry_delay=5)) as llm:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await llm.chat_completion(HELLO)
        # The 503 came back and no retry was sent: the timeout struck in the sleep.
        assert len(llm_server.requests) == 1
        assert llm.get_stats().attempts == 1
        assert llm.transport.in_flight == 0
        reply = await llm.chat_completion(HELLO)
    assert reply.choices[0].message.content == "Echo: hello"


async def test_cancel_mid_stream_releases_the_connection(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=2, delay=5))
    received = []

    async def consume():
        stream = await client.chat_completion(HELLO, stream=True)
        async with stream:
            async for chunk in stream:
                received.append(chunk)

    task = asyncio.create_task(consume())
    await until(lambda: len(received) == 2)  # the stream is open, stalled mid-body
    assert client.transport.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.transport.in_flight == 0
    assert len(received) == 2


async def test_authorization_is_not_sent_to_another_host_on_redirect(llm_server, config):
    from llmpipe.testing import LLMServer

    async with LLMServer() as elsewhere:
        target = f"{elsewhere.base_url}/v1/chat/completions"
        llm_server.add_faults(Fault(status=307, headers={"Location": target}))
        async with AsyncLLM(attrs.evolve(config, api_key="sk-redirect-secret")) as llm:
            reply = await llm.chat_completion(HELLO)
        [followed] = elsewhere.requests
    assert reply.choices[0].message.content == "Echo: hello"
    assert llm_server.requests[0].headers["Authorization"] == "Bearer sk-redirect-secret"
    assert "Authorization" not in followed.headers
