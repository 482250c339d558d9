"""The router over a fleet of bundled servers: balancing, model names, what it
reports, its identity and lifecycle, the sync client."""

from __future__ import annotations

import asyncio

import pytest

from llmpipe import LLM, AsyncLLM, CacheMiddleware, LLMConfig, MemoryCache, default_middlewares
from llmpipe.routing import Deployment, RoundRobin, Router, UnknownAlias, WeightedRandom
from llmpipe.testing import Fleet, Latency
from tests.routing_support import HELLO, deployments, routed, served


async def test_calls_are_spread_over_every_deployment():
    async with Fleet.of(3) as fleet, routed({"chat": deployments(fleet)}) as llm:
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(60)))
    assert sum(served(fleet)) == 60
    assert min(served(fleet)) >= 5


async def test_each_deployment_is_sent_its_own_model_name():
    async with Fleet.of(2) as fleet:
        groups = {
            "chat": [
                Deployment(base_url=fleet[0].base_url, model="gpt-4"),
                Deployment(base_url=fleet[1].base_url, model="llama-3-8b-instruct"),
            ]
        }
        async with routed(groups, balancer=RoundRobin()) as llm:
            replies = [await llm.chat_completion(HELLO) for _ in range(2)]
    assert sorted(r.model for r in replies) == ["gpt-4", "llama-3-8b-instruct"]
    assert [fleet[0].requests[0].json["model"], fleet[1].requests[0].json["model"]] == [
        "gpt-4",
        "llama-3-8b-instruct",
    ]


async def test_the_context_names_the_deployment_that_answered():
    seen = []

    async def spy(request, call_next):
        response = await call_next(request)
        seen.append(request.context.deployment)
        return response

    async with Fleet.of(1) as fleet:
        config = LLMConfig(model="chat")
        router = Router({"chat": deployments(fleet)}, config=config)
        async with AsyncLLM(config, [spy], transport=router) as llm:
            await llm.chat_completion(HELLO)
    assert seen == ["s0"]


async def test_a_model_that_is_no_alias_is_refused_without_sending():
    async with Fleet.of(1) as fleet, routed({"chat": deployments(fleet)}) as llm:
        with pytest.raises(UnknownAlias, match=r"'nope'.*aliases are \['chat'\]"):
            await llm.chat_completion(HELLO, model="nope")
    assert served(fleet) == [0]


async def test_a_request_without_a_model_goes_to_the_first_alias():
    async with Fleet.of(2) as fleet:
        groups = {"chat": deployments(fleet)[:1], "other": deployments(fleet)[1:]}
        async with routed(groups) as llm:
            models = await llm.list_models()
    assert models.data
    assert served(fleet) == [1, 0]


async def test_a_slow_replica_gets_less_traffic_but_some():
    fleet = Fleet.of(3, latency=lambda i: Latency.fixed(0.06 if i == 0 else 0.02))
    async with fleet, routed({"chat": deployments(fleet)}) as llm:

        async def worker():
            for _ in range(25):
                await llm.chat_completion(HELLO)

        await asyncio.gather(*(worker() for _ in range(6)))
    slow, *fast = served(fleet)
    assert 0 < slow < min(fast) / 1.5


async def test_weights_share_traffic_in_proportion():
    async with Fleet.of(2) as fleet:
        groups = {
            "chat": [
                Deployment(base_url=fleet[0].base_url, model="gpt-4", weight=1),
                Deployment(base_url=fleet[1].base_url, model="gpt-4", weight=4),
            ]
        }
        async with routed(groups, balancer=WeightedRandom()) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(200)))
    light, heavy = served(fleet)
    assert 2.5 < heavy / light < 6.5


async def test_each_deployment_sends_its_own_api_key():
    fleet = Fleet([_keyed("key-a"), _keyed("key-b")])
    async with fleet:
        groups = {
            "chat": [
                Deployment(base_url=fleet[0].base_url, model="gpt-4", api_key="key-a"),
                Deployment(base_url=fleet[1].base_url, model="gpt-4", api_key="key-b"),
            ]
        }
        async with routed(groups) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(20)))
    assert min(served(fleet)) > 0  # a wrong key would be a 401: no fallback, the call fails


def _keyed(key):
    from llmpipe.testing import LLMServer

    return LLMServer(api_key=key)


async def test_a_deployments_own_middleware_sees_only_its_requests():
    mine = []

    async def record(request, call_next):
        mine.append(request.body["model"])
        return await call_next(request)

    async with Fleet.of(2) as fleet:
        groups = {
            "chat": [
                Deployment(base_url=fleet[0].base_url, model="gpt-4", middlewares=[record]),
                Deployment(base_url=fleet[1].base_url, model="gpt-4o-mini"),
            ]
        }
        async with routed(groups) as llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(30)))
    assert mine == ["gpt-4"] * served(fleet)[0]


async def test_a_deployment_rate_limit_paces_only_that_deployment():
    async with Fleet.of(2) as fleet:
        groups = {
            "chat": [
                Deployment(base_url=fleet[0].base_url, model="gpt-4", requests_per_minute=600),
                Deployment(base_url=fleet[1].base_url, model="gpt-4"),
            ]
        }
        async with routed(groups, balancer=RoundRobin()) as llm:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(6):
                await llm.chat_completion(HELLO)
            elapsed = loop.time() - started
    assert served(fleet) == [3, 3]
    assert elapsed >= 0.2  # 3 requests at 10 per second on the limited one


async def test_the_router_origin_names_each_alias_and_its_deployments():
    async with Fleet.of(2) as fleet:
        router = Router({"chat": deployments(fleet)})
        origin = router.origin
        await router.close()
        ports = sorted(server.port for server in fleet)
    assert origin == (
        f"router:chat=http://127.0.0.1:{ports[0]}/v1#gpt-4|http://127.0.0.1:{ports[1]}/v1#gpt-4"
    )


def test_the_router_fingerprint_covers_every_deployments_key():
    def router(*keys):
        return Router(
            {
                "chat": [
                    Deployment(base_url=f"http://127.0.0.1:{9000 + i}", api_key=key)
                    for i, key in enumerate(keys)
                ]
            }
        )

    assert router("a", "b").credential_fingerprint(b"k") == router("b", "a").credential_fingerprint(
        b"k"
    )
    assert router("a", "b").credential_fingerprint(b"k") != router("a", "c").credential_fingerprint(
        b"k"
    )
    assert router(None, None).credential_fingerprint(b"k") is None


async def test_a_cache_above_the_router_answers_the_second_call():
    async with Fleet.of(2) as fleet:
        config = LLMConfig(model="chat", temperature=0)
        router = Router({"chat": deployments(fleet)}, config=config)
        stack = default_middlewares(config)
        stack.insert(1, CacheMiddleware(MemoryCache()))
        async with AsyncLLM(config, stack, transport=router) as llm:
            first = await llm.chat_completion(HELLO)
            again = await llm.chat_completion(HELLO)
    assert again.id == first.id
    assert sum(served(fleet)) == 1


async def test_closing_the_client_closes_every_deployments_pool():
    async with Fleet.of(3) as fleet:
        llm = routed({"chat": deployments(fleet)})
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(30)))
        assert sum(server.connections for server in fleet) > 0
        await llm.close()
        for _ in range(100):
            if sum(server.connections for server in fleet) == 0:
                break
            await asyncio.sleep(0.01)
        assert [server.connections for server in fleet] == [0, 0, 0]
        assert llm.transport.closed


async def test_stats_report_each_deployments_requests():
    async with Fleet.of(2) as fleet:
        llm = routed({"chat": deployments(fleet)})
        async with llm:
            await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(10)))
            stats = llm.transport.stats()
    assert [s.requests for s in stats] == served(fleet)
    assert [s.name for s in stats] == ["s0", "s1"]
    assert all(s.state == "closed" and s.in_flight == 0 for s in stats)


def test_the_sync_client_routes_and_falls_back():
    fleet = Fleet.of(2)
    with fleet:
        fleet[0].add_faults(*[_fault(503)] * 5)
        config = LLMConfig(model="chat", retry_delay=0.01)
        router = Router({"chat": deployments(fleet)}, config=config)
        with LLM(config, transport=router) as llm:
            replies = [llm.chat_completion(HELLO) for _ in range(10)]
            stats = llm.get_stats()
    assert [r.choices[0].message.content for r in replies] == ["Echo: hello"] * 10
    assert (stats.failures, stats.retries) == (0, 0)
    assert stats.fallbacks == min(5, len(fleet[0].requests))  # one per 503 served


def _fault(status):
    from llmpipe.testing import Fault

    return Fault(status=status)
