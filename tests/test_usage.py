"""Usage tracking and budgets over loopback, with a real redis-server for shared budgets.

The bundled server counts one token per whitespace-separated word, so the
usage each reply reports is known exactly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import pytest
import redis

from llmpipe import (
    AsyncLLM,
    BadRequestError,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    RetryMiddleware,
    UsageLimitExceeded,
    default_middlewares,
)
from llmpipe.middleware.reports import UsageReporter
from llmpipe.middleware.usage import (
    Budget,
    Charge,
    Price,
    RedisBudget,
    Spent,
    UsageEstimator,
    UsageSnapshot,
    UsageTotals,
)
from llmpipe.middleware.usage.middleware import UsageMiddleware
from llmpipe.request import LLMRequest
from llmpipe.testing import Fault
from llmpipe.wire.estimate import CharacterEstimator

HELLO = [{"role": "user", "content": "hello there"}]
SPEND = [{"role": "user", "content": "spend a little"}]


def usage_client(config: LLMConfig, usage: UsageMiddleware) -> AsyncLLM:
    """A client with ``usage`` just outside retry, where the docs place it."""
    return AsyncLLM(config, default_middlewares(config).insert_before(RetryMiddleware, usage))


def estimate(messages, max_tokens: int) -> int:
    request = LLMRequest("chat/completions", body={"messages": messages, "max_tokens": max_tokens})
    return UsageEstimator()(request).total_tokens


# --- tracking ----------------------------------------------------------------------


async def test_totals_per_model_add_up_what_each_reply_reported(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        first = await llm.chat_completion(HELLO)
        second = await llm.chat_completion(HELLO, model="gpt-4o-mini")
        third = await llm.chat_completion(SPEND)
    gpt4 = usage.usage().by_model["gpt-4"]
    assert gpt4.calls == 2
    assert gpt4.prompt_tokens == first.usage.prompt_tokens + third.usage.prompt_tokens
    assert gpt4.completion_tokens == first.usage.completion_tokens + third.usage.completion_tokens
    assert gpt4.total_tokens == first.usage.total_tokens + third.usage.total_tokens
    assert usage.usage().by_model["gpt-4o-mini"].total_tokens == second.usage.total_tokens


async def test_totals_per_tag_count_only_the_calls_with_that_tag(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        tagged = await llm.chat_completion(HELLO, tag="reports")
        await llm.chat_completion(SPEND, tag="search")
        await llm.chat_completion(SPEND)
    snapshot = usage.usage()
    assert set(snapshot.by_tag) == {"reports", "search"}
    assert snapshot.by_tag["reports"].total_tokens == tagged.usage.total_tokens
    assert snapshot.total.calls == 3


async def test_streamed_call_is_counted_from_its_final_usage_chunk(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        stream = await llm.chat_completion(HELLO, stream=True, tag="live")
        reply = await stream.collect()
        plain = await llm.chat_completion(HELLO)
    assert reply.usage == plain.usage
    streamed = usage.usage().by_tag["live"]
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )


async def test_text_completions_are_counted_too(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        reply = await llm.completion("once upon a time", max_tokens=3)
    assert usage.usage().total.total_tokens == reply.usage.total_tokens == 4 + 3


async def test_listing_models_is_not_counted_as_a_call(config):
    usage = UsageMiddleware(budget=Budget(max_tokens=0))
    async with usage_client(config, usage) as llm:
        await llm.list_models()
    assert usage.usage() == UsageSnapshot()


async def test_cost_is_computed_per_call_from_the_price_table(config):
    prices = {"gpt-4": Price(prompt_per_million=30.0, completion_per_million=60.0)}
    usage = UsageMiddleware(prices=prices)
    async with usage_client(config, usage) as llm:
        reply = await llm.chat_completion(HELLO)
        await llm.chat_completion(HELLO, model="gpt-4o-mini")
    expected = (reply.usage.prompt_tokens * 30.0 + reply.usage.completion_tokens * 60.0) / 1e6
    snapshot = usage.usage()
    assert snapshot.by_model["gpt-4"].cost == pytest.approx(expected)
    assert snapshot.by_model["gpt-4o-mini"].cost == 0.0  # not in the table
    assert snapshot.total.cost == pytest.approx(expected)


async def test_star_price_covers_models_the_table_does_not_name(config):
    usage = UsageMiddleware(prices={"*": Price(1_000_000.0, 0.0)})
    async with usage_client(config, usage) as llm:
        reply = await llm.chat_completion(HELLO, model="llama-3-8b-instruct")
    assert usage.usage().total.cost == pytest.approx(reply.usage.prompt_tokens)


async def test_reset_clears_every_total(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        await llm.chat_completion(HELLO, tag="t")
        usage.reset()
        assert usage.usage().total == UsageTotals()
        assert dict(usage.usage().by_tag) == {}
        await llm.chat_completion(HELLO)
    assert usage.usage().total.calls == 1


async def test_the_client_reads_usage_from_the_stacks_usage_reporter(config):
    usage = UsageMiddleware()
    async with usage_client(config, usage) as llm:
        assert llm.pipeline.find(UsageReporter) is usage
        await llm.chat_completion(HELLO, max_tokens=5)
        assert llm.get_usage() == usage.usage()
        assert llm.get_usage().total.calls == 1


async def test_get_usage_says_how_to_add_a_usage_middleware_when_the_stack_has_none(client):
    with pytest.raises(LLMError, match="insert_before"):
        client.get_usage()


def test_snapshot_cannot_be_changed_by_its_reader():
    snapshot = UsageMiddleware().usage()
    with pytest.raises(TypeError):
        snapshot.by_model["gpt-4"] = UsageTotals()  # type: ignore[index]


def test_a_price_that_is_not_a_price_is_rejected_at_construction():
    with pytest.raises(TypeError, match="must be a Price"):
        UsageMiddleware(prices={"gpt-4": 0.03})  # type: ignore[dict-item]


# --- estimates -----------------------------------------------------------------------


def test_budgets_and_rate_limits_share_one_estimator():
    body = {"messages": HELLO, "max_tokens": 7, "n": 2}
    request = LLMRequest("chat/completions", body=body)
    assert UsageEstimator is CharacterEstimator
    assert UsageEstimator()(request) == CharacterEstimator().estimate(request)
    chars = sum(len(m["content"]) for m in HELLO)
    guess = UsageEstimator()(request)
    assert (guess.prompt_tokens, guess.completion_tokens) == (-(-chars // 4) + 4 * len(HELLO), 14)


def test_estimate_without_max_tokens_assumes_the_unbounded_default():
    request = LLMRequest("completions", body={"prompt": ["a", "b"]})
    assert UsageEstimator(completion_allowance=100)(request).completion_tokens == 200


def test_estimate_for_embeddings_has_no_completion_tokens():
    request = LLMRequest("embeddings", body={"input": "x" * 40})
    assert UsageEstimator()(request).completion_tokens == 0


# --- in-process budget -------------------------------------------------------------


async def test_budget_refuses_a_call_that_would_exceed_it_and_sends_nothing(llm_server, config):
    budget = Budget(max_tokens=estimate(HELLO, 5) - 1)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        with pytest.raises(UsageLimitExceeded, match="token budget"):
            await llm.chat_completion(HELLO, max_tokens=5)
    assert llm_server.requests == []
    assert budget.spent() == Spent()


async def test_budget_records_the_real_usage_once_the_call_is_done(config):
    budget = Budget(max_tokens=1000)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        reply = await llm.chat_completion(HELLO, max_tokens=5)
    assert budget.spent() == Spent(tokens=reply.usage.total_tokens)


async def test_budget_admits_calls_until_the_next_estimate_would_not_fit(llm_server, config):
    one_call = estimate(HELLO, 5)
    budget = Budget(max_tokens=3 * one_call)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        sent = 0
        with pytest.raises(UsageLimitExceeded):
            for _ in range(100):
                await llm.chat_completion(HELLO, max_tokens=5)
                sent += 1
    assert len(llm_server.requests) == sent
    assert budget.spent().tokens <= 3 * one_call < budget.spent().tokens + one_call


async def test_cost_budget_refuses_once_the_money_is_spent(llm_server, config):
    price = Price(prompt_per_million=1_000_000.0, completion_per_million=1_000_000.0)
    budget = Budget(max_cost=float(estimate(HELLO, 5)))  # one token costs 1.0
    async with usage_client(config, UsageMiddleware(budget=budget, prices={"gpt-4": price})) as llm:
        reply = await llm.chat_completion(HELLO, max_tokens=5)
        with pytest.raises(UsageLimitExceeded, match="cost budget"):
            await llm.chat_completion(HELLO, max_tokens=5)
    assert len(llm_server.requests) == 1
    assert budget.spent().cost == pytest.approx(reply.usage.total_tokens)


async def test_cost_budget_refuses_a_model_without_a_price(llm_server, config):
    usage = UsageMiddleware(budget=Budget(max_cost=100.0), prices={"gpt-4": Price(1.0, 1.0)})
    async with usage_client(config, usage) as llm:
        with pytest.raises(UsageLimitExceeded, match="no price for model 'gpt-4o-mini'"):
            await llm.chat_completion(HELLO, model="gpt-4o-mini")
    assert llm_server.requests == []


async def test_failed_call_releases_its_hold_and_is_charged_nothing(llm_server, config):
    budget = Budget(max_tokens=1000)
    llm_server.add_faults(Fault(status=400))
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        with pytest.raises(BadRequestError):
            await llm.chat_completion(HELLO, max_tokens=5)
    assert budget.spent() == Spent()


async def test_streamed_call_settles_its_hold_with_the_reported_usage(config):
    budget = Budget(max_tokens=1000)
    usage = UsageMiddleware(budget=budget)
    async with usage_client(config, usage) as llm:
        stream = await llm.chat_completion(HELLO, max_tokens=5, stream=True)
        reply = await stream.collect()
        await usage.settled()
    assert budget.spent() == Spent(tokens=reply.usage.total_tokens)


async def test_stream_left_early_is_charged_its_estimate(config):
    budget = Budget(max_tokens=1000)
    usage = UsageMiddleware(budget=budget)
    async with usage_client(config, usage) as llm:
        stream = await llm.chat_completion(HELLO, max_tokens=5, stream=True)
        async with stream:
            await anext(stream)
        await usage.settled()
    assert budget.spent() == Spent(tokens=estimate(HELLO, 5))


async def test_one_budget_shared_by_concurrent_calls_is_never_overshot(llm_server, config):
    one_call = estimate(HELLO, 5)
    budget = Budget(max_tokens=5 * one_call + one_call // 2)
    llm_server.add_faults(*[Fault(delay=0.02)] * 20)  # all calls in flight at once
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        outcomes = await asyncio.gather(
            *(llm.chat_completion(HELLO, max_tokens=5) for _ in range(20)), return_exceptions=True
        )
    refused = [o for o in outcomes if isinstance(o, UsageLimitExceeded)]
    assert (len(refused), len(llm_server.requests)) == (15, 5)


# --- Redis budget ------------------------------------------------------------------


@pytest.fixture
def redis_budget(redis_url):
    budgets: list[RedisBudget] = []

    def make(**limits) -> RedisBudget:
        budgets.append(RedisBudget(redis_url, key="team", **limits))
        return budgets[-1]

    yield make
    for budget in budgets:
        budget.close()


async def test_redis_budget_records_the_real_usage_of_a_call(config, redis_budget):
    budget = redis_budget(max_tokens=1000)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        reply = await llm.chat_completion(HELLO, max_tokens=5)
    assert budget.spent() == Spent(tokens=reply.usage.total_tokens)


async def test_closing_the_client_waits_for_a_stream_to_settle_its_hold(config, redis_budget):
    budget = redis_budget(max_tokens=1000)
    llm = usage_client(config, UsageMiddleware(budget=budget))
    stream = await llm.chat_completion(HELLO, max_tokens=5, stream=True)
    reply = await stream.collect()
    await llm.close()
    assert budget.spent() == Spent(tokens=reply.usage.total_tokens)


async def test_redis_budget_refuses_without_sending_when_it_would_be_exceeded(
    llm_server, config, redis_budget
):
    budget = redis_budget(max_tokens=estimate(HELLO, 5) - 1)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        with pytest.raises(UsageLimitExceeded, match="shared budget 'team'"):
            await llm.chat_completion(HELLO, max_tokens=5)
    assert llm_server.requests == []


async def test_redis_budget_shared_by_two_clients_is_never_exceeded(
    llm_server, config, redis_budget
):
    one_call = estimate(SPEND, 5)
    limit = 12 * one_call
    usages = [UsageMiddleware(budget=redis_budget(max_tokens=limit)) for _ in range(2)]
    llm_server.add_faults(*[Fault(delay=0.005)] * 100)

    async def spend(llm: AsyncLLM) -> None:
        for _ in range(100):
            await llm.chat_completion(SPEND, max_tokens=5)

    async with usage_client(config, usages[0]) as one, usage_client(config, usages[1]) as two:
        outcomes = await asyncio.gather(
            *(spend(llm) for llm in (one, two, one, two)), return_exceptions=True
        )
    assert all(isinstance(o, UsageLimitExceeded) for o in outcomes)
    spent = usages[0].usage().total.total_tokens + usages[1].usage().total.total_tokens
    assert min(u.usage().total.calls for u in usages) > 0
    assert redis_budget().spent() == Spent(tokens=spent)
    assert limit - one_call < spent <= limit
    assert len(llm_server.requests) == sum(u.usage().total.calls for u in usages)


CHILD = """
import asyncio, json, sys, time
import redis
from llmpipe import AsyncLLM, LLMConfig, RetryMiddleware, UsageLimitExceeded, default_middlewares
from llmpipe.middleware.reports import UsageReporter
from llmpipe.middleware.usage.middleware import UsageMiddleware
from llmpipe.middleware.usage import RedisBudget

base_url, redis_url, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
MESSAGES = [{"role": "user", "content": "spend a little"}]
starter = redis.Redis.from_url(redis_url)
starter.incr("ready")
deadline = time.monotonic() + 20
while int(starter.get("ready")) < 2 and time.monotonic() < deadline:
    time.sleep(0.005)
starter.close()

async def main():
    budget = RedisBudget(redis_url, key="team", max_tokens=limit)
    usage = UsageMiddleware(budget=budget)
    config = LLMConfig(base_url=base_url)
    stack = default_middlewares(config).insert_before(RetryMiddleware, usage)
    async with AsyncLLM(config, stack) as llm:
        for _ in range(500):
            try:
                await llm.chat_completion(MESSAGES, max_tokens=5)
            except UsageLimitExceeded:
                break
    budget.close()
    total = usage.usage().total
    print(json.dumps({"calls": total.calls, "tokens": total.total_tokens}))

asyncio.run(main())
"""


def test_redis_budget_shared_by_two_processes_is_never_exceeded(
    llm_server, redis_url, redis_budget
):
    one_call = estimate(SPEND, 5)
    limit = 20 * one_call
    llm_server.add_faults(*[Fault(delay=0.005)] * 200)
    command = [sys.executable, "-c", CHILD, llm_server.base_url, redis_url, str(limit)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert [child.returncode for child in children] == [0, 0]
    spent = sum(report["tokens"] for report in reports)
    assert min(report["calls"] for report in reports) > 0
    assert redis_budget().spent() == Spent(tokens=spent)
    assert limit - one_call < spent <= limit
    assert len(llm_server.requests) == sum(report["calls"] for report in reports)


async def test_redis_budget_releases_the_hold_of_a_caller_that_never_settled(
    redis_url, redis_budget
):
    budget = redis_budget(max_tokens=100)
    connection = redis.Redis.from_url(redis_url)
    crashed = RedisBudget(connection, key="team", max_tokens=100, hold_ttl=0.2)
    await crashed.reserve(Charge(tokens=100))  # and then its process dies
    connection.close()
    assert budget.spent() == Spent(held_tokens=100)
    await asyncio.sleep(0.25)
    hold = await budget.reserve(Charge(tokens=100))  # the dead hold is released first
    await budget.settle(hold, Charge(tokens=40))
    assert budget.spent() == Spent(tokens=40)


async def test_unreachable_redis_fails_the_call_before_sending_it(llm_server, config):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    budget = RedisBudget(f"redis://127.0.0.1:{port}/0", max_tokens=1000)
    async with usage_client(config, UsageMiddleware(budget=budget)) as llm:
        with pytest.raises(LLMConnectionError, match="usage budget 'llmpipe:budget': Redis"):
            await llm.chat_completion(HELLO)
    budget.close()
    assert llm_server.requests == []


async def test_redis_budget_works_with_a_client_that_decodes_responses(redis_url):
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    budget = RedisBudget(connection, key="team", max_tokens=10)
    await budget.settle(await budget.reserve(Charge(tokens=10)), Charge(tokens=8))
    with pytest.raises(UsageLimitExceeded, match="8 used or held"):
        await budget.reserve(Charge(tokens=3))
    assert budget.spent() == Spent(tokens=8)
    connection.close()


async def test_redis_budget_reset_forgets_spending_for_every_sharer(redis_budget):
    first, second = redis_budget(max_tokens=50), redis_budget(max_tokens=50)
    await first.settle(await first.reserve(Charge(tokens=50, cost=2.5)), Charge(50, 2.5))
    with pytest.raises(UsageLimitExceeded):
        await second.reserve(Charge(tokens=1))
    second.reset()
    assert first.spent() == Spent()
    await first.reserve(Charge(tokens=50))


async def test_in_process_budget_reset_forgets_spending_but_not_holds():
    budget = Budget(max_tokens=10)
    await budget.settle(await budget.reserve(Charge(6)), Charge(6))
    hold = await budget.reserve(Charge(3))
    budget.reset()
    assert budget.spent() == Spent(held_tokens=3)
    assert hold.charge == Charge(3)
