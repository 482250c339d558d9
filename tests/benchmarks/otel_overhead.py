"""What OpenTelemetryMiddleware costs per call, in process (issue 15's target).

    .venv/bin/python -m tests.benchmarks.otel_overhead [--http] [--calls 1000] [--rounds 40]

Three AsyncLLM stacks: the default stack, the default stack instrumented with
``OpenTelemetryMiddleware().instrument(...)`` and no SDK configured, and the
same with the SDK (SimpleSpanProcessor into an InMemorySpanExporter, an
InMemoryMetricReader) passed in. By default they share one MockTransport
answering a ~300-byte chat completion (parsed for real, no network: only the
pipeline is measured, the harshest comparison); with ``--http`` they call the
bundled server (``python -m llmpipe serve``, another process) over loopback.
Rounds of ``--calls`` calls alternate between the stacks in rotating order;
each figure is the best round's CPU time per call of this process (best-of is
the figure least disturbed by other processes on the machine). Target:
instrumented without an SDK at most 1.03x the default stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from llmpipe import AsyncLLM, LLMConfig, LLMRequest, LLMResponse, MockTransport
from llmpipe import default_middlewares as defaults
from llmpipe.observability.otel import OpenTelemetryMiddleware

REPLY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help?"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
    }
).encode()
HELLO = [{"role": "user", "content": "Hello there"}]


def answer(request: LLMRequest) -> LLMResponse:
    return LLMResponse(200, {"Content-Type": "application/json"}, REPLY, request)


def sdk_providers() -> dict[str, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


async def cpu_per_call(llm: AsyncLLM, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await llm.chat_completion(HELLO)
    return (time.process_time() - started) / calls


@contextlib.contextmanager
def bundled_server() -> Iterator[str]:
    """``python -m llmpipe serve --port 0`` as a child; yields its base URL."""
    command = [sys.executable, "-m", "llmpipe", "serve", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            yield line.rsplit(" ", 1)[-1].strip()
        finally:
            server.terminate()


async def measure(calls: int, rounds: int, base_url: str | None) -> dict[str, float]:
    config = LLMConfig() if base_url is None else LLMConfig(base_url=base_url)
    stacks = {
        "default stack": defaults(config),
        "+ OpenTelemetryMiddleware, no SDK": OpenTelemetryMiddleware().instrument(defaults(config)),
        "+ OpenTelemetryMiddleware, SDK in memory": OpenTelemetryMiddleware(
            **sdk_providers()
        ).instrument(defaults(config)),
    }
    if base_url is None:
        transport = MockTransport(answer)
        clients = {name: AsyncLLM(config, s, transport=transport) for name, s in stacks.items()}
    else:
        clients = {name: AsyncLLM(config, stack) for name, stack in stacks.items()}
    best = dict.fromkeys(clients, float("inf"))
    names = list(clients)
    for name in names:
        await cpu_per_call(clients[name], calls)  # warm up
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            best[name] = min(best[name], await cpu_per_call(clients[name], calls))
    for client in clients.values():
        await client.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--http", action="store_true", help="call the bundled server")
    args = parser.parse_args()
    if args.http:
        with bundled_server() as base_url:
            best = asyncio.run(measure(args.calls, args.rounds, base_url))
    else:
        best = asyncio.run(measure(args.calls, args.rounds, None))
    base = best["default stack"]
    print("| stack | CPU per call | vs default |")
    print("| --- | --- | --- |")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.1f} µs | {seconds / base:.3f}× |")


if __name__ == "__main__":
    main()
