"""Routing with OpenTelemetry: the call layer above the router, an attempt layer in
each deployment, so each HTTP request a fallback or a hedge sends has its own span
naming the server it went to."""

from __future__ import annotations

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
