"""Breakers over loopback: a failing deployment is left alone while its breaker
is open, probed once per cooldown, and given traffic again once it answers;
a 429's Retry-After is that deployment's cooldown."""

from __future__ import annotations

import asyncio

import pytest

from llmpipe import InternalServerError
from llmpipe.routing import BreakerPolicy, BreakerState, RoundRobin
from llmpipe.testing import Fault, Fleet
from tests.routing_support import HELLO, deployments, routed, served


async def steady(llm, calls, *, every=0.0):
    for _ in range(calls):
        await llm.chat_completion(HELLO)
        if every:
            await asyncio.sleep(every)


async def test_an_open_breaker_keeps_calls_away_from_its_deployment():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(*[Fault(status=503)] * 100)
        breaker = BreakerPolicy(failures=3, cooldown=60)
        group = {"chat": deployments(fleet)}
        async with routed(group, breaker=breaker, balancer=RoundRobin()) as llm:
            await steady(llm, 40)
            s0, s1 = llm.transport.stats()
    assert served(fleet) == [3, 40]
    assert (s0.state, s1.state) == (BreakerState.OPEN, BreakerState.CLOSED)


async def test_after_the_cooldown_one_probe_reaches_the_deployment():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(*[Fault(status=503)] * 100)
        breaker = BreakerPolicy(failures=2, cooldown=0.2)
        async with routed({"chat": deployments(fleet)}, breaker=breaker) as llm:
            await steady(llm, 10)
            before = len(fleet[0].requests)
            await asyncio.sleep(0.25)
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(20)))
            s0, _ = llm.transport.stats()
    assert len(fleet[0].requests) == before + 1
    assert (s0.probes, s0.state) == (1, BreakerState.OPEN)


async def test_a_dead_deployment_sees_at_most_one_request_per_cooldown():
    async with Fleet.of(2) as fleet:
        await fleet[0].go_down()
        breaker = BreakerPolicy(failures=2, cooldown=0.1)
        async with routed({"chat": deployments(fleet)}, breaker=breaker) as llm:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await steady(llm, 60, every=0.01)
            elapsed = loop.time() - started
            s0, _ = llm.transport.stats()
    assert s0.probes <= elapsed / 0.1 + 1
    assert s0.requests - s0.probes <= 2  # the failures that opened it


async def test_a_probe_that_succeeds_closes_the_breaker_and_traffic_returns():
    async with Fleet.of(2) as fleet:
        await fleet[0].go_down()
        breaker = BreakerPolicy(failures=2, cooldown=0.2)
        # Round-robin: the test is about the breaker; p2c's latency memory would
        # (rightly) send a just-recovered replica less traffic on a loaded machine.
        routing = {"breaker": breaker, "balancer": RoundRobin()}
        async with routed({"chat": deployments(fleet)}, **routing) as llm:
            await steady(llm, 10)
            await fleet[0].come_back()
            await asyncio.sleep(0.25)
            await steady(llm, 40, every=0.002)
            s0, _ = llm.transport.stats()
    assert s0.state is BreakerState.CLOSED
    assert len(fleet[0].requests) >= 8


async def test_a_429_with_retry_after_cools_that_deployment_down_for_that_long():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=429, headers={"Retry-After": "1"}))
        async with routed({"chat": deployments(fleet)}, balancer=RoundRobin()) as llm:
            loop = asyncio.get_running_loop()
            await steady(llm, 2)
            cooled_at = loop.time()
            await steady(llm, 20, every=0.02)
            waited = loop.time() - cooled_at
            await asyncio.sleep(max(0.0, 1.05 - waited))
            await steady(llm, 4)
    first, second, *_ = (r.received_at for r in fleet[0].requests)
    assert second - first >= 1.0


async def test_a_cancelled_probe_lets_the_next_call_probe():
    async with Fleet.of(1) as fleet:
        breaker = BreakerPolicy(failures=1, cooldown=0.05)
        fleet[0].add_faults(Fault(status=503), Fault(delay=5))
        group = {"chat": deployments(fleet)}
        async with routed(group, breaker=breaker, config={"max_retries": 0}) as llm:
            with pytest.raises(InternalServerError):  # the 503 that opens the breaker
                await llm.chat_completion(HELLO)
            await asyncio.sleep(0.06)
            probe = asyncio.create_task(llm.chat_completion(HELLO))
            await asyncio.sleep(0.1)
            probe.cancel()
            await asyncio.sleep(0.01)
            reply = await llm.chat_completion(HELLO)
            [s0] = llm.transport.stats()
    assert reply.choices[0].message.content == "Echo: hello"
    assert (s0.probes, s0.state) == (2, BreakerState.CLOSED)
