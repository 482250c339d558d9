"""Fallbacks by error class, over loopback: another deployment for a deployment's
failure, another alias for the request's, nothing for other 4xx; streams only
before their first event; each fallback visible in the context and in stats."""

from __future__ import annotations

import asyncio

import pytest

from llmpipe import (
    BadRequestError,
    InternalServerError,
    LLMConnectionError,
    StreamTruncatedError,
)
from llmpipe.routing import Deployment, Fallbacks, NoDeploymentAvailable, RoundRobin
from llmpipe.testing import Fault, Fleet
from tests.routing_support import HELLO, deployments, routed, served

CONTEXT_ERROR = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}
FILTER_ERROR = {
    "error": {"message": "filtered", "type": "invalid_request_error", "code": "content_filter"}
}


def one_each(fleet, first="chat", second="chat-long"):
    return {
        first: [Deployment(base_url=fleet[0].base_url, model="gpt-4", name="small")],
        second: [Deployment(base_url=fleet[1].base_url, model="gpt-4o-mini", name="large")],
    }


async def test_a_refused_connection_moves_the_call_to_another_deployment():
    async with Fleet.of(2) as fleet:
        await fleet[0].go_down()
        async with routed({"chat": deployments(fleet)}, balancer=RoundRobin()) as llm:
            replies = [await llm.chat_completion(HELLO) for _ in range(4)]
            stats = llm.get_stats()
            down, _ = llm.transport.stats()
    assert [r.choices[0].message.content for r in replies] == ["Echo: hello"] * 4
    assert (stats.failures, stats.retries) == (0, 0)
    assert stats.fallbacks == down.failures == down.requests > 0


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_deployment_failure_status_moves_the_call_to_another(status):
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=status))
        async with routed(
            {"chat": deployments(fleet)}, balancer=RoundRobin(), config={"max_retries": 0}
        ) as llm:
            replies = [await llm.chat_completion(HELLO) for _ in range(2)]
            stats = llm.get_stats()
    assert [r.choices[0].message.content for r in replies] == ["Echo: hello"] * 2
    assert served(fleet) == [1, 2]
    assert (stats.attempts, stats.fallbacks) == (2, 1)


async def test_each_fallback_is_in_the_calls_context():
    steps = []

    async def spy(request, call_next):
        try:
            return await call_next(request)
        finally:
            steps.append((request.context.fallbacks, request.context.deployment))

    from llmpipe import AsyncLLM, LLMConfig
    from llmpipe.routing import Router

    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=503))
        config = LLMConfig(model="chat")
        router = Router({"chat": deployments(fleet)}, config=config, balancer=RoundRobin())
        async with AsyncLLM(config, [spy], transport=router) as llm:
            await llm.chat_completion(HELLO)
            await llm.chat_completion(HELLO)
    (first, _), (second, _) = steps
    failed = [step for step in (first, second) if step]
    assert len(failed) == 1
    [step] = failed[0]
    assert (step.source, step.target, step.reason, step.alias) == ("s0", "s1", "server", "chat")


async def test_when_every_deployment_fails_the_call_gets_the_last_reply():
    async with Fleet.of(2) as fleet:
        for server in fleet:
            server.add_faults(Fault(status=500))
        async with routed({"chat": deployments(fleet)}, config={"max_retries": 0}) as llm:
            with pytest.raises(InternalServerError):
                await llm.chat_completion(HELLO)
    assert served(fleet) == [1, 1]


async def test_a_bad_request_is_not_sent_anywhere_else():
    async with Fleet.of(2) as fleet:
        for server in fleet:
            server.add_faults(Fault(status=400))
        async with routed({"chat": deployments(fleet)}) as llm:
            with pytest.raises(BadRequestError):
                await llm.chat_completion(HELLO)
            stats = llm.get_stats()
    assert sum(served(fleet)) == 1
    assert stats.fallbacks == 0


async def test_a_request_too_long_goes_to_the_larger_context_alias():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=400, body=CONTEXT_ERROR))
        fallbacks = Fallbacks(context_window={"chat": "chat-long"})
        async with routed(one_each(fleet), fallbacks=fallbacks) as llm:
            reply = await llm.chat_completion(HELLO)
            stats = llm.get_stats()
    assert reply.model == "gpt-4o-mini"
    assert fleet[1].requests[0].json["model"] == "gpt-4o-mini"
    assert stats.fallbacks == 1


async def test_a_request_too_long_without_a_configured_alias_fails():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=400, body=CONTEXT_ERROR))
        async with routed(one_each(fleet)) as llm:
            with pytest.raises(BadRequestError, match="maximum context length"):
                await llm.chat_completion(HELLO)
    assert served(fleet) == [1, 0]


async def test_a_filtered_request_goes_to_the_configured_alternative():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(status=400, body=FILTER_ERROR))
        fallbacks = Fallbacks(content_filter={"chat": "chat-long"})
        async with routed(one_each(fleet), fallbacks=fallbacks) as llm:
            reply = await llm.chat_completion(HELLO)
    assert reply.model == "gpt-4o-mini"


async def test_a_reply_ended_by_the_filter_goes_to_the_configured_alternative():
    filtered = {
        "id": "chatcmpl-f",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ""},
                "finish_reason": "content_filter",
            }
        ],
    }
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(body=filtered))
        fallbacks = Fallbacks(content_filter={"chat": "chat-long"})
        async with routed(one_each(fleet), fallbacks=fallbacks) as llm:
            reply = await llm.chat_completion(HELLO)
    assert (reply.model, reply.choices[0].finish_reason) == ("gpt-4o-mini", "stop")


async def test_alias_fallbacks_never_visit_an_alias_twice():
    async with Fleet.of(2) as fleet:
        for server in fleet:
            server.add_faults(Fault(status=400, body=CONTEXT_ERROR))
        fallbacks = Fallbacks(context_window={"chat": "chat-long", "chat-long": "chat"})
        async with routed(one_each(fleet), fallbacks=fallbacks) as llm:
            with pytest.raises(BadRequestError):
                await llm.chat_completion(HELLO)
    assert served(fleet) == [1, 1]


async def test_a_stream_that_fails_before_its_first_event_falls_back():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(drop_after_events=0))
        async with routed(
            {"chat": deployments(fleet)}, balancer=RoundRobin(), config={"max_retries": 0}
        ) as llm:
            texts = []
            for _ in range(2):
                stream = await llm.chat_completion(HELLO, stream=True)
                texts.append((await stream.collect()).choices[0].message.content)
            stats = llm.get_stats()
    assert texts == ["Echo: hello"] * 2
    assert stats.fallbacks == 1


async def test_a_stream_whose_first_event_is_an_error_falls_back():
    async with Fleet.of(2) as fleet:
        fleet[0].add_faults(Fault(error_after_events=0, status=503))
        async with routed(
            {"chat": deployments(fleet)}, balancer=RoundRobin(), config={"max_retries": 0}
        ) as llm:
            for _ in range(2):
                stream = await llm.chat_completion(HELLO, stream=True)
                await stream.collect()
            stats = llm.get_stats()
    assert (stats.fallbacks, stats.failures) == (1, 0)


async def test_a_stream_that_breaks_after_its_first_event_does_not_fall_back():
    async with Fleet.of(2) as fleet:
        for server in fleet:
            server.add_faults(Fault(drop_after_events=2))
        async with routed({"chat": deployments(fleet)}, config={"max_retries": 0}) as llm:
            words = [{"role": "user", "content": "a b c d e"}]
            stream = await llm.chat_completion(words, stream=True)
            with pytest.raises(StreamTruncatedError):
                async for _ in stream:
                    pass
            stats = llm.get_stats()
    assert sum(served(fleet)) == 1
    assert stats.fallbacks == 0


async def test_every_deployment_cooling_down_is_no_deployment_available():
    async with Fleet.of(2) as fleet:
        for server in fleet:
            await server.go_down()
        async with routed(
            {"chat": deployments(fleet)}, max_wait=0.05, config={"max_retries": 0}
        ) as llm:
            for _ in range(3):  # three failures each: both breakers open
                with pytest.raises(LLMConnectionError):
                    await llm.chat_completion(HELLO)
            with pytest.raises(NoDeploymentAvailable, match=r"s0 open.*s1 open"):
                await llm.chat_completion(HELLO)


async def test_many_calls_through_a_chaotic_deployment_all_succeed():
    from llmpipe.testing import Chaos, LLMServer

    chaos = Chaos(seed=3, rate=0.3, faults=["server_error", "rate_limit", "reset", "html_error"])
    fleet = Fleet([LLMServer(chaos=chaos), LLMServer(), LLMServer()])
    async with fleet, routed({"chat": deployments(fleet)}) as llm:
        replies = await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(150)))
        stats = llm.get_stats()
    assert len(replies) == 150
    assert stats.failures == 0
    assert stats.fallbacks == len(chaos.log)
