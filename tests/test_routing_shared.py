"""Breakers shared across processes through a real redis-server: what one
process learns about a deployment, another acts on without failing first."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.routing import BreakerPolicy, BreakerState, RedisBreakers, Router
from llmpipe.testing import Fleet
from tests.routing_support import HELLO, deployments

PREFIX = "test:breakers"


def peer(redis_url, fleet, *, cooldown, calls):
    """Run ``calls`` calls in another process; what it did."""
    command = [sys.executable, "-m", "tests.routing_peer", redis_url, PREFIX, str(cooldown)]
    result = subprocess.run(
        [*command, str(calls), *fleet.base_urls],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def shared_client(redis_url, fleet, *, cooldown):
    config = LLMConfig(model="chat", retry_delay=0.01, max_retries=0, timeout=5)
    shared = RedisBreakers(redis_url, prefix=PREFIX, refresh=0)
    router = Router(
        {"chat": deployments(fleet)},
        config=config,
        breaker=BreakerPolicy(failures=2, cooldown=cooldown),
        shared=shared,
    )
    return AsyncLLM(config, transport=router), shared


async def test_a_breaker_opened_in_one_process_keeps_another_away(redis_url):
    fleet = Fleet.of(2)
    with fleet:
        await fleet[0].go_down()
        llm, shared = shared_client(redis_url, fleet, cooldown=30)
        async with llm:
            while llm.transport.stats()[0].state is not BreakerState.OPEN:
                await llm.chat_completion(HELLO)
            await shared.settled()
            other = await asyncio.to_thread(peer, redis_url, fleet, cooldown=30, calls=20)
    assert other["failures"] == other["fallbacks"] == 0
    assert other["deployments"]["s0"] == {"requests": 0, "probes": 0, "state": "open"}


async def test_only_one_process_sends_the_half_open_probe(redis_url):
    fleet = Fleet.of(2)
    with fleet:
        await fleet[0].go_down()
        llm, shared = shared_client(redis_url, fleet, cooldown=0.3)
        async with llm:
            while llm.transport.stats()[0].state is not BreakerState.OPEN:
                await llm.chat_completion(HELLO)
            await shared.settled()
            await asyncio.sleep(0.35)
            s0 = llm.transport.replicas()[0]
            assert await shared.claim_probe(s0, asyncio.get_running_loop().time())
            other = await asyncio.to_thread(peer, redis_url, fleet, cooldown=0.3, calls=20)
    assert other["deployments"]["s0"]["requests"] == 0
    assert other["failures"] == 0


async def test_a_probe_that_succeeds_in_one_process_closes_the_breaker_in_others(redis_url):
    fleet = Fleet.of(2)
    with fleet:
        await fleet[0].go_down()
        first = await asyncio.to_thread(peer, redis_url, fleet, cooldown=0.3, calls=10)
        assert first["deployments"]["s0"]["state"] == "open"
        await fleet[0].come_back()
        llm, shared = shared_client(redis_url, fleet, cooldown=0.3)
        async with llm:
            await asyncio.sleep(0.35)
            for _ in range(5):  # the first sees the breaker the other process opened, and probes
                await llm.chat_completion(HELLO)
            await shared.settled()
            here, _ = llm.transport.stats()
            last = await asyncio.to_thread(peer, redis_url, fleet, cooldown=0.3, calls=20)
    assert (here.probes, here.state) == (1, BreakerState.CLOSED)
    assert last["deployments"]["s0"]["probes"] == 0
    assert last["deployments"]["s0"]["requests"] > 0
    assert last["failures"] == 0


async def test_breakers_decide_alone_when_redis_cannot_be_reached():
    fleet = Fleet.of(2)
    with fleet:
        await fleet[0].go_down()
        llm, _ = shared_client("redis://127.0.0.1:9", fleet, cooldown=30)
        async with llm:
            replies = [await llm.chat_completion(HELLO) for _ in range(10)]
            s0, _ = llm.transport.stats()
    assert len(replies) == 10
    assert (s0.state, s0.requests) == (BreakerState.OPEN, 2)
