"""The bundled server's fleet features: latency profiles, a capacity limit that
answers 429 with Retry-After, going down and coming back on the same port."""

from __future__ import annotations

import asyncio
import statistics

import aiohttp
import pytest

from llmpipe.testing import Fleet, Latency, LLMServer

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


async def post(session, server, **extra):
    async with session.post(f"{server.base_url}/v1/chat/completions", json=BODY, **extra) as r:
        await r.read()
        return r.status, r.headers


def test_a_fixed_latency_is_the_same_for_every_request():
    profile = Latency.fixed(0.25)
    assert {profile.sample(n) for n in range(1, 50)} == {0.25}


def test_a_latency_profile_is_reproducible_from_its_seed():
    profile = Latency.lognormal(0.1, 0.5, seed=4)
    assert [profile.sample(n) for n in range(20)] == [profile.sample(n) for n in range(20)]
    other = Latency.lognormal(0.1, 0.5, seed=5)
    assert [profile.sample(n) for n in range(20)] != [other.sample(n) for n in range(20)]


def test_a_lognormal_latency_has_its_median():
    profile = Latency.lognormal(0.1, 0.5)
    assert statistics.median(profile.sample(n) for n in range(4000)) == pytest.approx(0.1, rel=0.05)


def test_a_long_tail_makes_its_share_slower_by_its_factor():
    profile = Latency.long_tail(0.01, slow_share=0.05, slow_factor=20)
    samples = [profile.sample(n) for n in range(10000)]
    slow = sum(s == pytest.approx(0.2) for s in samples)
    assert 400 < slow < 600
    assert statistics.median(samples) == pytest.approx(0.01)


def test_a_batch_slows_requests_beyond_it_in_proportion():
    profile = Latency.fixed(0.1, batch=4)
    assert (profile.sample(1, in_flight=4), profile.sample(1, in_flight=8)) == (0.1, 0.2)


async def test_the_server_waits_out_its_latency_before_answering():
    async with LLMServer(latency=Latency.fixed(0.2)) as server, aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _ = await post(session, server)
        elapsed = loop.time() - started
    assert status == 200
    assert 0.2 <= elapsed < 0.4


async def test_a_paced_stream_waits_its_latency_to_the_first_event_and_paces_the_rest():
    profile = Latency(0.1, per_event=0.05)
    async with LLMServer(latency=profile) as server, aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        arrivals = []
        url = f"{server.base_url}/v1/chat/completions"
        async with session.post(url, json={**BODY, "stream": True}) as reply:
            async for line in reply.content:
                if line.startswith(b"data:"):
                    arrivals.append(loop.time() - started)
    assert 0.1 <= arrivals[0] < 0.2
    assert len(arrivals) >= 4  # the role, words, the finish, [DONE]
    assert arrivals[-1] >= 0.1 + 0.05 * (len(arrivals) - 1)


async def test_requests_beyond_capacity_get_429_with_retry_after():
    server = LLMServer(capacity=2, latency=Latency.fixed(0.2), capacity_retry_after=0.25)
    async with server, aiohttp.ClientSession() as session:
        replies = await asyncio.gather(*(post(session, server) for _ in range(5)))
    statuses = sorted(status for status, _ in replies)
    assert statuses == [200, 200, 429, 429, 429]
    refused = next(headers for status, headers in replies if status == 429)
    assert (refused["Retry-After"], refused["retry-after-ms"]) == ("1", "250")
    assert (server.refused, server.peak_in_flight) == (3, 2)


async def test_a_server_that_went_down_refuses_connections_on_its_port():
    async with LLMServer() as server, aiohttp.ClientSession() as session:
        port = server.port
        await server.go_down()
        with pytest.raises(aiohttp.ClientConnectorError):
            await post(session, server)
        assert (server.down, server.port) == (True, port)


async def test_a_server_that_comes_back_answers_on_the_same_port():
    async with LLMServer() as server, aiohttp.ClientSession() as session:
        port = server.port
        await server.go_down()
        await server.come_back()
        status, _ = await post(session, server)
        assert (status, server.port, server.down) == (200, port, False)


async def test_going_down_cuts_off_the_requests_in_flight():
    async with LLMServer(latency=Latency.fixed(5)) as server, aiohttp.ClientSession() as session:
        call = asyncio.create_task(post(session, server))
        await asyncio.sleep(0.1)
        await server.go_down()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await call


def test_a_fleet_on_threads_can_be_taken_down_from_another_loop():
    fleet = Fleet.of(2)
    with fleet:
        asyncio.run(fleet[0].go_down())
        assert [server.down for server in fleet] == [True, False]
        asyncio.run(fleet[0].come_back())
        assert [server.down for server in fleet] == [False, False]


def test_a_fleet_gives_each_server_its_latency():
    fleet = Fleet.of(3, latency=lambda i: Latency.fixed(i / 10))
    assert [server.latency for server in fleet] == [Latency.fixed(i / 10) for i in range(3)]


def test_a_server_refuses_a_capacity_below_one():
    with pytest.raises(ValueError, match="capacity"):
        LLMServer(capacity=0)


def test_an_empty_fleet_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        Fleet([])
