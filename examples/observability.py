"""Observability: OpenTelemetry spans and metrics of a few calls, printed by the
SDK's console exporters, and llmpipe's log lines in the stdlib logging module.

A chat call that is retried once (a span per call, a child span per HTTP
attempt, each attempt's traceparent received by the server), a stream, and an
embeddings call. The SDK is the application's choice: llmpipe depends on
opentelemetry-api only. This example starts its own in-process test server so
it can queue a failure, as retries.py does.
"""

import asyncio
import logging
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import llmpipe
from llmpipe import AsyncLLM, LLMConfig, OpenTelemetryMiddleware, default_middlewares
from llmpipe.testing import Fault, LLMServer

QUESTION = [{"role": "user", "content": "What does a span measure?"}]


def show_span(span: ReadableSpan) -> str:
    """One span as a few lines (the exporter's default is a JSON document)."""
    parent = f"{span.parent.span_id:016x}" if span.parent else "-"
    head = f"span {span.name!r} id={span.context.span_id:016x} parent={parent}"
    if span.status.status_code.name == "ERROR":
        head += " status=ERROR"
    lines = [head] + [f"    {key}={value}" for key, value in (span.attributes or {}).items()]
    return "\n".join(lines) + "\n"


def show_metrics(data: MetricsData) -> str:
    """One line per histogram point: name, unit, operation, token type or error."""
    lines = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    labels = " ".join(
                        str(attributes[key])
                        for key in ("gen_ai.operation.name", "gen_ai.token.type", "error.type")
                        if key in attributes
                    )
                    count, total = getattr(point, "count", 0), getattr(point, "sum", 0)
                    name = f"{metric.name} [{metric.unit}]"
                    lines.append(f"metric {name} {labels} count={count} sum={total:.4g}")
    return "\n".join(lines) + "\n"


async def calls(config: LLMConfig, layer: OpenTelemetryMiddleware, server: LLMServer) -> None:
    async with AsyncLLM(config, layer.instrument(default_middlewares(config))) as llm:
        server.add_faults(Fault(status=503))
        reply = await llm.chat_completion(QUESTION, max_tokens=20)
        print(f"Reply: {reply.choices[0].message.text}")
        stream = await llm.chat_completion(QUESTION, stream=True)
        await stream.collect()
        await llm.embeddings("onions have layers")
    received = [r.headers.get("traceparent") for r in server.requests]
    print(f"The server received {len(received)} requests, each with its attempt's traceparent:")
    for traceparent in received:
        print(f"    traceparent: {traceparent}")


def main() -> None:
    logging.basicConfig(stream=sys.stdout, format="log %(levelname)s %(name)s: %(message)s")
    logging.getLogger("llmpipe").setLevel(logging.WARNING)
    llmpipe.enable_stdlib_logging()  # retry warnings go to the stdlib "llmpipe" logger

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout, formatter=show_span))
    )
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=sys.stdout, formatter=show_metrics),
        export_interval_millis=3_600_000,  # once, at shutdown
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    layer = OpenTelemetryMiddleware(tracer_provider=tracer_provider, meter_provider=meter_provider)

    server = LLMServer()
    with server.run_in_thread():
        config = LLMConfig.from_env(base_url=server.base_url, retry_delay=0.05)
        asyncio.run(calls(config, layer, server))
    tracer_provider.shutdown()
    meter_provider.shutdown()  # exports the metrics once more, then stops
    llmpipe.disable_stdlib_logging()


if __name__ == "__main__":
    main()
