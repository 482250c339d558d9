"""Retries end to end: counts, the measured schedule, server hints."""

import email.utils
import itertools
import time

import attrs
import pytest

from llmpipe import (
    AsyncLLM,
    BadRequestError,
    InternalServerError,
    LLMAPIError,
    LLMConfig,
    LLMConnectionError,
    LLMTimeoutError,
    RateLimitError,
)
from llmpipe.testing import Fault

HELLO = [{"role": "user", "content": "hello"}]
SLACK = 0.25


def gaps(server):
    times = [r.received_at for r in server.requests]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_call_retried_twice_counts_once_with_three_attempts(llm_server, client):
    llm_server.add_faults(Fault(status=503), Fault(status=502))
    response = await client.chat_completion(HELLO)
    assert response.choices[0].message.content == "Echo: hello"
    assert len(llm_server.requests) == 3
    assert client.get_request_count() == 1
    stats = client.get_stats()
    assert (stats.attempts, stats.retries, stats.failures) == (3, 2, 0)


async def test_measured_delays_follow_retry_delay_times_powers_of_two(llm_server, config):
    # Every delay is longer than SLACK, so a schedule off by a factor of two
    # (or a constant one) falls outside some window: each gap is bounded on
    # both sides by its own delay.
    schedule = [0.3, 0.6, 1.2]
    assert min(schedule) > SLACK
    llm_server.add_faults(*[Fault(status=503)] * 3)
    slow = attrs.evolve(config, retry_delay=0.3, max_retry_delay=5, max_retries=3)
    async with AsyncLLM(slow) as llm:
        await llm.chat_completion(HELLO)
    measured = gaps(llm_server)
    assert len(measured) == 3
    for gap, expected in zip(measured, schedule, strict=True):
        assert expected <= gap < expected + SLACK


async def test_exhausted_retries_raise_the_last_error_after_n_plus_one_attempts(llm_server, client):
    llm_server.add_faults(*[Fault(status=500)] * 4)
    with pytest.raises(InternalServerError):
        await client.chat_completion(HELLO)
    assert len(llm_server.requests) == 4
    stats = client.get_stats()
    assert (stats.requests, stats.attempts, stats.failures) == (1, 4, 1)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_sent_once(llm_server, client, status):
    llm_server.add_faults(Fault(status=status))
    with pytest.raises(LLMAPIError) as caught:
        await client.chat_completion(HELLO)
    assert caught.value.status_code == status
    assert len(llm_server.requests) == 1


async def test_retry_after_seconds_from_the_server_sets_the_wait(llm_server, config):
    llm_server.add_faults(Fault(status=429, headers={"Retry-After": "1"}))
    async with AsyncLLM(attrs.evolve(config, max_retry_delay=5)) as llm:
        await llm.chat_completion(HELLO)
    [gap] = gaps(llm_server)
    assert gap >= 1.0
    assert gap < 1.0 + SLACK


async def test_retry_after_http_date_from_the_server_sets_the_wait(llm_server, config):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    llm_server.add_faults(Fault(status=503, headers={"Retry-After": when}))
    async with AsyncLLM(attrs.evolve(config, max_retry_delay=5)) as llm:
        await llm.chat_completion(HELLO)
    [gap] = gaps(llm_server)
    assert 0.9 <= gap < 2.0 + SLACK  # HTTP dates have one-second resolution


async def test_retry_after_ms_from_the_server_sets_the_wait(llm_server, client):
    llm_server.add_faults(Fault(status=429, headers={"retry-after-ms": "300"}))
    await client.chat_completion(HELLO)
    [gap] = gaps(llm_server)
    assert 0.3 <= gap < 0.3 + SLACK


async def test_x_should_retry_false_from_the_server_stops_retries(llm_server, client):
    llm_server.add_faults(Fault(status=503, headers={"x-should-retry": "false"}))
    with pytest.raises(InternalServerError):
        await client.chat_completion(HELLO)
    assert len(llm_server.requests) == 1


async def test_per_call_max_retries_overrides_the_config(llm_server, client):
    llm_server.add_faults(*[Fault(status=503)] * 3)
    with pytest.raises(InternalServerError):
        await client.chat_completion(HELLO, max_retries=1)
    assert len(llm_server.requests) == 2


async def test_rate_limit_error_raised_when_429_persists(llm_server, config):
    llm_server.add_faults(*[Fault(status=429)] * 2)
    async with AsyncLLM(attrs.evolve(config, max_retries=1)) as llm:
        with pytest.raises(RateLimitError):
            await llm.chat_completion(HELLO)


async def test_connection_refused_raises_connection_error_after_the_retries(unused_tcp_port):
    config = LLMConfig(
        base_url=f"http://127.0.0.1:{unused_tcp_port}", retry_delay=0.01, max_retries=2
    )
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMConnectionError, match="cannot connect"):
            await llm.list_models()
        stats = llm.get_stats()
    assert (stats.requests, stats.attempts, stats.retries) == (1, 3, 2)


async def test_stalled_server_raises_timeout_within_timeout_times_attempts(llm_server, config):
    llm_server.add_faults(Fault(delay=5), Fault(delay=5))
    slow = attrs.evolve(config, timeout=0.3, max_retries=1, retry_delay=0.05)
    started = time.monotonic()
    async with AsyncLLM(slow) as llm:
        with pytest.raises(LLMTimeoutError, match=r"0\.3 s"):
            await llm.chat_completion(HELLO)
    assert time.monotonic() - started < 0.3 * 2 + 0.05 + SLACK


async def test_per_call_timeout_overrides_the_config(llm_server, config):
    llm_server.add_faults(Fault(delay=5))
    async with AsyncLLM(attrs.evolve(config, max_retries=0)) as llm:
        with pytest.raises(LLMTimeoutError):
            await llm.chat_completion(HELLO, timeout=0.2)


async def test_failed_response_is_released_before_the_retry(llm_server, config):
    # With a pool of one connection, a retry could not start if the failed
    # response still held it.
    llm_server.add_faults(Fault(status=503))
    one = attrs.evolve(config, connection_limit=1, timeout=2)
    async with AsyncLLM(one) as llm:
        response = await llm.chat_completion(HELLO)
    assert response.choices[0].message.content == "Echo: hello"


async def test_bad_request_is_not_retried_even_with_many_retries(llm_server, config):
    llm_server.add_faults(Fault(status=400))
    async with AsyncLLM(attrs.evolve(config, max_retries=10)) as llm:
        with pytest.raises(BadRequestError):
            await llm.chat_completion(HELLO)
    assert len(llm_server.requests) == 1


async def test_retry_after_beyond_max_retry_delay_gives_up_at_once_stating_the_wait(
    llm_server, client
):
    llm_server.add_faults(Fault(status=429, headers={"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await client.chat_completion(HELLO)
    assert "the server asked to wait 30 s" in caught.value.not_retried
    assert (len(llm_server.requests), time.monotonic() - started < SLACK) == (1, True)


async def test_retry_after_beyond_the_cap_is_waited_in_full_within_a_deadline(llm_server, client):
    retry_after = 1.0  # above the cap of 0.5 s
    llm_server.add_faults(Fault(status=429, headers={"Retry-After": f"{retry_after:g}"}))
    await client.chat_completion(HELLO, deadline=5)
    [gap] = gaps(llm_server)
    assert retry_after <= gap < retry_after + SLACK


async def test_retry_after_beyond_what_the_deadline_leaves_is_not_waited(llm_server, client):
    llm_server.add_faults(Fault(status=503, headers={"Retry-After": "10"}))
    with pytest.raises(InternalServerError) as caught:
        await client.chat_completion(HELLO, deadline=2)
    assert "would pass the call's deadline" in caught.value.not_retried


async def test_litellm_provider_retry_after_from_a_proxy_sets_the_wait(llm_server, client):
    """LiteLLM's 429 carries its hint only as ``llm_provider-retry-after``."""
    llm_server.add_faults(Fault(status=429, headers={"llm_provider-retry-after": "0.3"}))
    await client.chat_completion(HELLO)
    [gap] = gaps(llm_server)
    assert 0.3 <= gap < 0.3 + SLACK


@pytest.mark.parametrize("status", [408, 409, 520, 524, 529])
async def test_timeout_conflict_and_cdn_statuses_are_retried(llm_server, client, status):
    llm_server.add_faults(Fault(status=status))
    await client.chat_completion(HELLO)
    assert len(llm_server.requests) == 2
