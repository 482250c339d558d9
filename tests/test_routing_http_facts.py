"""A routed reply's HTTP facts say where it came from: the deployment that answered,
each fallback on the way, and the hedges sent and won, for plain calls and streams,
from the async and the sync client."""

from __future__ import annotations

import pickle

import pytest

from llmpipe import LLM, LLMConfig
from llmpipe.request import FallbackStep
from llmpipe.routing import Hedging, RoundRobin, Router
from llmpipe.testing import Fault, Fleet
from tests.routing_support import HELLO, deployments, routed

# RoundRobin sends a client's first call to the second deployment (s1), a hedge
# or a fallback from there to the first (s0).
PRIMARY = 1
FELL_BACK = (FallbackStep(source="s1", target="s0", reason="server", alias="chat"),)


def facts(http):
    return (http.deployment, http.fallbacks, http.hedges, http.hedges_won)


def late(stream):
    """The primary's reply comes after the hedge's (a stream's first event too)."""
    return Fault(stall_after_events=0, delay=5) if stream else Fault(delay=5)


def sync_router(fleet, **router):
    config = LLMConfig(model="chat", max_retries=0)
    transport = Router({"chat": deployments(fleet)}, config=config, balancer=RoundRobin(), **router)
    return LLM(config, transport=transport)


async def routed_call(llm, stream):
    """The HTTP facts of one call: of the stream (read to its end), or of the reply."""
    if not stream:
        return (await llm.chat_completion(HELLO)).http
    reply = await llm.chat_completion(HELLO, stream=True)
    await reply.collect()
    return reply.http


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_fallback_is_in_the_replys_http_facts(stream):
    async with Fleet.of(2) as fleet:
        fleet[PRIMARY].add_faults(Fault(status=503))
        async with routed(
            {"chat": deployments(fleet)}, balancer=RoundRobin(), config={"max_retries": 0}
        ) as llm:
            http = await routed_call(llm, stream)
    assert facts(http) == ("s0", FELL_BACK, 0, 0)
    assert (http.status, http.attempts) == (200, 1)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_winning_hedge_is_in_the_replys_http_facts(stream):
    async with Fleet.of(2) as fleet:
        fleet[PRIMARY].add_faults(late(stream))
        async with routed(
            {"chat": deployments(fleet)},
            balancer=RoundRobin(),
            hedging=Hedging(delay=0.05),
            config={"max_retries": 0},
        ) as llm:
            http = await routed_call(llm, stream)
    assert facts(http) == ("s0", (), 1, 1)


async def test_a_hedge_that_lost_is_in_the_replys_http_facts_as_sent_not_won():
    async with Fleet.of(2) as fleet:
        fleet[PRIMARY].add_faults(Fault(delay=0.15))
        fleet[0].add_faults(Fault(delay=1.0))
        async with routed(
            {"chat": deployments(fleet)},
            balancer=RoundRobin(),
            hedging=Hedging(delay=0.05),
            config={"max_retries": 0},
        ) as llm:
            http = await routed_call(llm, stream=False)
    assert facts(http) == ("s1", (), 1, 0)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_sync_client_gives_a_fallback_in_the_http_facts(stream):
    fleet = Fleet.of(2)
    with fleet, sync_router(fleet) as llm:
        fleet[PRIMARY].add_faults(Fault(status=503))
        if stream:
            reply = llm.chat_completion(HELLO, stream=True)
            reply.collect()
        else:
            reply = llm.chat_completion(HELLO)
    assert facts(reply.http) == ("s0", FELL_BACK, 0, 0)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_sync_client_gives_a_winning_hedge_in_the_http_facts(stream):
    fleet = Fleet.of(2)
    with fleet, sync_router(fleet, hedging=Hedging(delay=0.05)) as llm:
        fleet[PRIMARY].add_faults(late(stream))
        if stream:
            reply = llm.chat_completion(HELLO, stream=True)
            reply.collect()
        else:
            reply = llm.chat_completion(HELLO)
    assert facts(reply.http) == ("s0", (), 1, 1)


async def test_an_unrouted_reply_names_no_deployment(client):
    reply = await client.chat_completion(HELLO)
    assert facts(reply.http) == (None, (), 0, 0)


async def test_the_routed_facts_survive_pickling():
    async with Fleet.of(2) as fleet:
        fleet[PRIMARY].add_faults(Fault(status=503))
        async with routed(
            {"chat": deployments(fleet)}, balancer=RoundRobin(), config={"max_retries": 0}
        ) as llm:
            http = await routed_call(llm, stream=False)
    assert facts(pickle.loads(pickle.dumps(http))) == ("s0", FELL_BACK, 0, 0)
