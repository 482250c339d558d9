"""A RetryMiddleware of the user's keeps the config's retry settings unless it
sets its own; a retried call's error says how many attempts it made, over how long."""

from __future__ import annotations

import pickle
import socket

import attrs
import pytest

from llmpipe import (
    AsyncLLM,
    ExponentialBackoff,
    LLMConfig,
    RetryMiddleware,
    default_middlewares,
)
from llmpipe.errors import (
    BadRequestError,
    InternalServerError,
    LLMConnectionError,
    LLMTimeoutError,
)
from llmpipe.middleware.retry import RetryBudget
from llmpipe.testing import Fault

HI = [{"role": "user", "content": "hi"}]
ATTEMPTS = r"; gave up after (\d+) attempts over (\d+\.\d) s"


class NoRetryOn400(ExponentialBackoff):
    """A custom policy as the README shows: it changes a decision, no numbers."""

    def retry_delay(self, request, error, retries):
        if getattr(error, "status_code", None) == 400:
            return None
        return super().retry_delay(request, error, retries)


def custom_stack(config, middleware):
    return default_middlewares(config).replace(RetryMiddleware, middleware)


async def test_a_custom_policy_retries_as_often_as_the_config_says(llm_server, config):
    config = attrs.evolve(config, max_retries=1)
    llm_server.add_faults(*[Fault(status=503)] * 5)
    async with AsyncLLM(config, custom_stack(config, RetryMiddleware(NoRetryOn400()))) as llm:
        with pytest.raises(InternalServerError):
            await llm.chat_completion(HI)
    assert len(llm_server.requests) == 2


async def test_a_custom_policy_s_own_max_retries_beats_the_config_s(llm_server, config):
    config = attrs.evolve(config, max_retries=3)
    llm_server.add_faults(*[Fault(status=503)] * 5)
    policy = NoRetryOn400(max_retries=0)
    async with AsyncLLM(config, custom_stack(config, RetryMiddleware(policy))) as llm:
        with pytest.raises(InternalServerError):
            await llm.chat_completion(HI)
    assert len(llm_server.requests) == 1


def test_a_custom_policy_takes_the_config_s_delays():
    config = LLMConfig(retry_delay=0.25, max_retry_delay=4.0, retry_jitter=0.5, max_retries=7)
    llm = AsyncLLM(config, custom_stack(config, RetryMiddleware(NoRetryOn400())))
    policy = llm.pipeline.find(RetryMiddleware).policy
    assert (type(policy), policy.max_retries, policy.base_delay) == (NoRetryOn400, 7, 0.25)
    assert (policy.max_delay, policy.jitter) == (4.0, 0.5)


def test_a_custom_policy_s_own_delays_beat_the_config_s():
    config = LLMConfig(retry_delay=0.25, max_retry_delay=4.0)
    llm = AsyncLLM(config, custom_stack(config, RetryMiddleware(NoRetryOn400(base_delay=2.0))))
    policy = llm.pipeline.find(RetryMiddleware).policy
    assert (policy.base_delay, policy.max_delay) == (2.0, 4.0)


def test_a_retry_layer_without_a_budget_takes_the_config_s():
    config = LLMConfig(retry_budget=0.35)
    llm = AsyncLLM(config, custom_stack(config, RetryMiddleware(NoRetryOn400())))
    assert llm.pipeline.find(RetryMiddleware).budget.ratio == 0.35


def test_budget_none_turns_the_config_s_budget_off():
    config = LLMConfig(retry_budget=0.35)
    llm = AsyncLLM(config, custom_stack(config, RetryMiddleware(budget=None)))
    assert llm.pipeline.find(RetryMiddleware).budget is None


def test_a_budget_given_is_kept():
    budget = RetryBudget(ratio=0.9)
    config = LLMConfig(retry_budget=0.35)
    llm = AsyncLLM(config, custom_stack(config, RetryMiddleware(budget=budget)))
    assert llm.pipeline.find(RetryMiddleware).budget is budget


def test_a_policy_used_outside_a_client_has_the_spec_s_numbers():
    spec = LLMConfig()
    assert ExponentialBackoff().with_config(spec) == ExponentialBackoff(
        max_retries=spec.max_retries,
        base_delay=spec.retry_delay,
        max_delay=spec.max_retry_delay,
        jitter=spec.retry_jitter,
    )


# -- the final error after retries -----------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_connection_error_after_retries_says_attempts_and_time():
    config = LLMConfig(base_url=closed_port_url(), max_retries=2, retry_delay=0.05)
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMConnectionError, match=ATTEMPTS) as raised:
            await llm.chat_completion(HI)
    assert raised.value.attempts == 3
    assert raised.value.elapsed >= 0.05 + 0.1  # the two waits at least
    assert str(raised.value).endswith(
        f"; gave up after 3 attempts over {raised.value.elapsed:.1f} s"
    )


async def test_a_timeout_after_retries_says_attempts_and_time(llm_server, config):
    llm_server.add_faults(*[Fault(delay=2)] * 3)
    config = attrs.evolve(config, timeout=0.2, max_retries=1)
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMTimeoutError, match="after 2 attempts over") as raised:
            await llm.chat_completion(HI)
    assert raised.value.elapsed >= 0.4  # two attempts that each ran out their time


async def test_a_retried_status_says_attempts_and_time(llm_server, config):
    llm_server.add_faults(*[Fault(status=503)] * 3)
    async with AsyncLLM(attrs.evolve(config, max_retries=2)) as llm:
        with pytest.raises(InternalServerError, match=ATTEMPTS) as raised:
            await llm.chat_completion(HI)
    assert (raised.value.attempts, raised.value.status_code) == (3, 503)


async def test_an_error_not_retried_says_nothing_of_attempts(llm_server, config):
    llm_server.add_faults(Fault(status=400))
    async with AsyncLLM(config) as llm:
        with pytest.raises(BadRequestError) as raised:
            await llm.chat_completion(HI)
    assert (raised.value.attempts, raised.value.elapsed) == (1, None)
    assert "attempts" not in str(raised.value)


async def test_a_call_whose_next_wait_would_pass_its_deadline_says_both(llm_server, config):
    llm_server.add_faults(*[Fault(status=503)] * 5)
    async with AsyncLLM(attrs.evolve(config, retry_delay=0.3, max_retries=5)) as llm:
        with pytest.raises(InternalServerError) as raised:
            await llm.chat_completion(HI, deadline=0.8)
    message = str(raised.value)
    assert "after 2 attempts over" in message
    assert message.endswith("would pass the call's deadline)")


async def test_the_attempts_and_time_survive_pickle(llm_server, config):
    llm_server.add_faults(*[Fault(status=503)] * 2)
    async with AsyncLLM(attrs.evolve(config, max_retries=1)) as llm:
        with pytest.raises(InternalServerError) as raised:
            await llm.chat_completion(HI)
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (copy.attempts, copy.elapsed, str(copy)) == (2, raised.value.elapsed, str(raised.value))
