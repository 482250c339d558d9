"""Adaptive concurrency over loopback: a limit per deployment learnt from its
replies keeps an over-capacity server from answering 429, queued calls keep
their deadlines, and the server's own rate-limit headers seed and cap the limit."""

from __future__ import annotations

import asyncio

import pytest

from llmpipe import LLMTimeoutError
from llmpipe.routing import Aimd, BreakerPolicy, Deployment, Gradient
from llmpipe.testing import Fault, Fleet, Latency, LLMServer
from tests.routing_support import HELLO, deployments, routed, served


@pytest.mark.parametrize("policy", [Aimd(initial=4), Gradient(initial=4)], ids=["aimd", "gradient"])
async def test_an_adaptive_limit_keeps_an_overloaded_server_from_refusing(policy):
    fleet = Fleet([LLMServer(capacity=8, latency=Latency.fixed(0.02))])
    async with fleet:
        breaker = BreakerPolicy(failures=50)
        async with routed({"chat": deployments(fleet)}, limit=policy, breaker=breaker) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(300)))
            stats = llm.get_stats()
            [deployment] = llm.transport.stats()
    assert stats.failures == 0
    assert fleet[0].refused <= 15  # 5 %; without a limit most of 300 at once are refused
    assert deployment.limit is not None
    assert deployment.limit <= 9


async def test_without_a_limit_the_same_load_is_mostly_refused():
    fleet = Fleet([LLMServer(capacity=8, latency=Latency.fixed(0.02))])
    async with (
        fleet,
        routed({"chat": deployments(fleet)}, breaker=None, config={"max_retries": 0}) as llm,
    ):
        replies = await asyncio.gather(
            *(llm.chat_completion(HELLO) for _ in range(100)), return_exceptions=True
        )
    assert fleet[0].refused == sum(isinstance(r, Exception) for r in replies) >= 80


async def test_a_429_from_a_full_server_lowers_the_limit():
    fleet = Fleet([LLMServer(capacity=3, latency=Latency.fixed(0.05))])
    async with (
        fleet,
        routed({"chat": deployments(fleet)}, limit=Aimd(initial=6), breaker=None) as llm,
    ):
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(6)))
        [deployment] = llm.transport.stats()
    assert deployment.limit is not None
    assert deployment.limit < 6


async def test_a_queued_call_whose_deadline_passes_is_not_sent():
    async with Fleet.of(1) as fleet:
        fleet[0].add_faults(Fault(delay=0.5))
        group = {"chat": [Deployment(base_url=fleet[0].base_url, model="gpt-4", max_in_flight=1)]}
        async with routed(group) as llm:
            slow = asyncio.create_task(llm.chat_completion(HELLO))
            await asyncio.sleep(0.05)
            with pytest.raises(LLMTimeoutError, match="not sent: the call's deadline passed"):
                await llm.chat_completion(HELLO, deadline=0.1)
            await slow
    assert served(fleet) == [1]


async def test_queued_calls_go_out_as_room_frees():
    async with Fleet.of(1, latency=Latency.fixed(0.02)) as fleet:
        group = {"chat": [Deployment(base_url=fleet[0].base_url, model="gpt-4", max_in_flight=2)]}
        async with routed(group) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(20)))
    assert fleet[0].peak_in_flight == 2
    assert served(fleet) == [20]


async def test_the_servers_remaining_requests_cap_the_limit():
    async with Fleet.of(1) as fleet:
        fleet[0].add_faults(Fault(headers={"x-ratelimit-remaining-requests": "2"}))
        async with routed({"chat": deployments(fleet)}, limit=Aimd(initial=10)) as llm:
            await llm.chat_completion(HELLO)
            [deployment] = llm.transport.stats()
    assert deployment.limit == 2


async def test_a_big_request_quota_seeds_the_limit_well_above_its_initial_value():
    quota = {
        "x-ratelimit-limit-requests": "60000",  # 1000 a second
        "x-ratelimit-remaining-requests": "59999",
        "x-ratelimit-reset-requests": "1ms",
    }
    async with Fleet.of(1, latency=Latency.fixed(0.1)) as fleet:
        fleet[0].add_faults(Fault(headers=quota))
        async with routed({"chat": deployments(fleet)}, limit=Aimd(initial=8)) as llm:
            await llm.chat_completion(HELLO)
            [deployment] = llm.transport.stats()
    assert deployment.limit is not None
    assert 100 <= deployment.limit <= 300  # 1000/s * 0.1 s and up, as the reply took


async def test_a_small_request_quota_seeds_the_limit_down_to_what_it_sustains():
    quota = {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59"}
    async with Fleet.of(1, latency=Latency.fixed(0.05)) as fleet:
        fleet[0].add_faults(Fault(headers=quota))
        async with routed({"chat": deployments(fleet)}, limit=Gradient(initial=8)) as llm:
            await llm.chat_completion(HELLO)
            [deployment] = llm.transport.stats()
    assert deployment.limit == 1  # 1 a second for 0.05 s each


async def test_calls_finding_one_deployment_full_go_to_another():
    async with Fleet.of(2, latency=Latency.fixed(0.05)) as fleet:
        group = {
            "chat": [
                Deployment(base_url=server.base_url, model="gpt-4", max_in_flight=3)
                for server in fleet
            ]
        }
        async with routed(group) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(6)))
    assert [server.peak_in_flight for server in fleet] == [3, 3]
