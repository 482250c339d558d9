"""With no tracer or meter provider set, the OpenTelemetry layers do nothing at
all; a provider set later is picked up; without opentelemetry-api installed,
llmpipe still imports and the middleware says what to install.

No test in this process sets a global provider (OpenTelemetry allows it once
per process): the global path runs in subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from llmpipe import AsyncLLM, LLMRequest, LLMResponse, MockTransport, Pipeline, default_middlewares
from llmpipe.observability.otel import OpenTelemetryMiddleware

HELLO = [{"role": "user", "content": "Hello there"}]


def run_python(code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_with_no_provider_set_both_layers_hand_on_the_next_layers_awaitable_itself():
    layer = OpenTelemetryMiddleware()
    request = LLMRequest("chat/completions", body={"model": "gpt-4"})
    handed_on = object()

    def call_next(_request):
        return handed_on

    assert layer(request, call_next) is handed_on
    assert layer.attempts()(request, call_next) is handed_on


def test_with_no_provider_set_a_pipeline_hands_the_transports_coroutine_through_both_layers():
    transport = MockTransport(lambda request: LLMResponse.from_json(request, {}))
    pipeline = Pipeline(OpenTelemetryMiddleware().instrument([]), transport)
    sent = pipeline.plain(LLMRequest("chat/completions", body={"model": "gpt-4"}))
    assert sent.cr_code is MockTransport.send.__code__
    sent.close()


async def test_with_no_provider_set_no_traceparent_is_sent(llm_server, config):
    stack = OpenTelemetryMiddleware().instrument(default_middlewares(config))
    async with AsyncLLM(config, stack) as llm:
        await llm.chat_completion(HELLO)
    assert "traceparent" not in llm_server.requests[0].headers


def test_global_providers_set_after_the_client_was_built_are_picked_up(llm_server):
    out = run_python(
        """
        import sys
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from llmpipe import LLM, LLMConfig, OpenTelemetryMiddleware, default_middlewares

        config = LLMConfig(base_url=sys.argv[1])
        stack = OpenTelemetryMiddleware().instrument(default_middlewares(config))
        with LLM(config, stack) as llm:
            llm.chat_completion([{"role": "user", "content": "before"}])
            spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
            tracer_provider = TracerProvider()
            tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
            trace.set_tracer_provider(tracer_provider)
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            llm.chat_completion([{"role": "user", "content": "after"}])
        print(sorted(s.name for s in spans.get_finished_spans()))
        names = [m.name for r in reader.get_metrics_data().resource_metrics
                 for s in r.scope_metrics for m in s.metrics]
        print(names)
        """,
        llm_server.base_url,
    )
    assert out.splitlines() == [
        "['POST', 'chat gpt-4']",
        "['gen_ai.client.operation.duration', 'gen_ai.client.token.usage']",
    ]
    assert ["traceparent" in r.headers for r in llm_server.requests] == [False, True]


def test_without_opentelemetry_llmpipe_imports_and_the_middleware_names_the_extra():
    out = run_python(
        """
        import sys

        class NoOpenTelemetry:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, NoOpenTelemetry())
        import llmpipe

        llmpipe.enable_stdlib_logging()  # the logging bridge needs no extra
        for name in ("OpenTelemetryMiddleware", "AttemptSpanMiddleware"):
            try:
                getattr(llmpipe.observability, name)
            except ImportError as error:
                print(error)
        """
    )
    assert out.splitlines() == [
        "OpenTelemetryMiddleware needs opentelemetry-api: pip install 'llmpipe[otel]'",
        "AttemptSpanMiddleware needs opentelemetry-api: pip install 'llmpipe[otel]'",
    ]
