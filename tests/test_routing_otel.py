"""Routing with OpenTelemetry: the call layer above the router, an attempt layer in
each deployment, so each HTTP request a fallback or a hedge sends has its own span
naming the server it went to."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from llmpipe import AsyncLLM, LLMConfig, default_middlewares
from llmpipe.routing import Deployment, Hedging, RoundRobin, Router
from llmpipe.testing import Fault, Fleet
from tests.otel_support import Telemetry
from tests.routing_support import HELLO


def traced_router(fleet, telemetry, **router):
    otel = telemetry.middleware()
    config = LLMConfig(model="chat", max_retries=0)
    groups = {
        "chat": [
            Deployment(base_url=server.base_url, model="gpt-4", middlewares=[otel.attempts()])
            for server in fleet
        ]
    }
    transport = Router(groups, config=config, balancer=RoundRobin(), **router)
    return AsyncLLM(config, [otel, *default_middlewares(config)], transport=transport)


async def test_a_fallback_is_a_second_http_span_naming_the_other_server():
    telemetry = Telemetry()
    async with Fleet.of(2) as fleet:
        fleet[1].add_faults(Fault(status=503))  # RoundRobin's first call goes to the second
        async with traced_router(fleet, telemetry) as llm:
            await llm.chat_completion(HELLO)
        ports = [server.port for server in fleet]
    call = telemetry.span("chat chat")  # named by the alias asked for
    attempts = telemetry.attempts()
    assert [(a.attributes or {})["server.port"] for a in attempts] == [ports[1], ports[0]]
    assert [(a.attributes or {}).get("http.response.status_code") for a in attempts] == [503, 200]
    assert [(a.attributes or {}).get("http.request.resend_count") for a in attempts] == [None, 1]
    assert {a.parent.span_id for a in attempts if a.parent} == {call.context.span_id}


async def test_a_hedge_is_a_second_http_span_of_the_same_call():
    telemetry = Telemetry()
    async with Fleet.of(2) as fleet:
        fleet[1].add_faults(Fault(delay=5))
        async with traced_router(fleet, telemetry, hedging=Hedging(delay=0.05)) as llm:
            await llm.chat_completion(HELLO)
    call = telemetry.span("chat chat")  # named by the alias asked for
    attempts = telemetry.attempts()
    assert len(attempts) == 2
    assert {a.parent.span_id for a in attempts if a.parent} == {call.context.span_id}
    assert [(a.attributes or {}).get("http.response.status_code") for a in attempts] == [None, 200]


def traceparent_of(span):
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_call_with_a_fallback_and_a_hedge_is_one_span_with_a_child_per_request(stream):
    """RoundRobin over three: s1 answers 503, the call falls back to s0, which is
    late, so it is hedged to s2, which wins; s0's request is cancelled."""
    telemetry = Telemetry()
    late = Fault(stall_after_events=0, delay=5) if stream else Fault(delay=5)
    async with Fleet.of(3) as fleet:
        fleet[1].add_faults(Fault(status=503))
        fleet[0].add_faults(late)
        async with traced_router(fleet, telemetry, hedging=Hedging(delay=0.05)) as llm:
            if stream:
                reply = await llm.chat_completion(HELLO, stream=True)
                await reply.collect()
            else:
                reply = await llm.chat_completion(HELLO)
        received = {server.port: server.requests[0].headers["traceparent"] for server in fleet}
        ports = [fleet[1].port, fleet[0].port, fleet[2].port]
    assert (reply.http.deployment, len(reply.http.fallbacks), reply.http.hedges) == (
        "chat[2]",
        1,
        1,
    )
    call = telemetry.span("chat chat")
    assert call.status.status_code is not StatusCode.ERROR
    attempts = telemetry.attempts()
    assert [a.attributes["server.port"] for a in attempts] == ports
    assert {a.attributes["server.address"] for a in attempts} == {"127.0.0.1"}
    assert [a.parent.span_id for a in attempts] == [call.context.span_id] * 3
    assert {a.context.trace_id for a in attempts} == {call.context.trace_id}
    assert [a.attributes.get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert [a.attributes.get("http.response.status_code") for a in attempts] == [503, None, 200]
    assert [a.attributes.get("error.type") for a in attempts] == ["503", "CancelledError", None]
    assert [received[a.attributes["server.port"]] for a in attempts] == [
        traceparent_of(a) for a in attempts
    ]
