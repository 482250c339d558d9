"""The real OpenTelemetry SDK with its in-memory exporters, for the observability tests.

Providers are passed to ``OpenTelemetryMiddleware`` explicitly: the global
ones can be set once per process, so tests of the global path run in a
subprocess of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmpipe import AsyncLLM, LLMConfig, default_middlewares
from llmpipe.observability.otel import OpenTelemetryMiddleware


@attrs.define
class Telemetry:
    """An SDK tracer and meter provider whose output tests read back."""

    spans_out: InMemorySpanExporter = attrs.field(factory=InMemorySpanExporter)
    metrics_in: InMemoryMetricReader = attrs.field(factory=InMemoryMetricReader)
    tracer_provider: TracerProvider = attrs.field(init=False)
    meter_provider: MeterProvider = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_out))
        self.meter_provider = MeterProvider(metric_readers=[self.metrics_in])

    def middleware(self, **options: Any) -> OpenTelemetryMiddleware:
        return OpenTelemetryMiddleware(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def client(self, config: LLMConfig, **options: Any) -> AsyncLLM:
        """A client with the default stack, instrumented both ways."""
        stack = self.middleware(**options).instrument(default_middlewares(config))
        return AsyncLLM(config, stack)

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.spans_out.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def attempts(self) -> list[ReadableSpan]:
        """The HTTP attempt spans, oldest first."""
        return sorted((s for s in self.spans() if s.name in ("POST", "GET")), key=_start)

    def points(self, metric: str) -> list[HistogramDataPoint]:
        """The data points of one histogram (empty if nothing was recorded)."""
        data = self.metrics_in.get_metrics_data()
        found: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for each in scope.metrics:
                    if each.name == metric:
                        found.extend(each.data.data_points)  # type: ignore[arg-type]
        return found

    def point(self, metric: str, **attributes: Any) -> HistogramDataPoint:
        """The one point of ``metric`` whose attributes include ``attributes``
        (dots in names written as ``__``)."""
        wanted = {name.replace("__", "."): value for name, value in attributes.items()}
        found = [
            p for p in self.points(metric) if wanted.items() <= dict(p.attributes or {}).items()
        ]
        assert len(found) == 1, [dict(p.attributes or {}) for p in self.points(metric)]
        return found[0]


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0


def every_attribute_value(telemetry: Telemetry) -> Iterator[str]:
    """Every span attribute, event and metric attribute value, as text."""
    for span in telemetry.spans():
        yield from map(str, (span.attributes or {}).values())
        for event in span.events:
            yield from map(str, (event.attributes or {}).values())
        yield str(span.status.description)
    for name in (
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ):
        for point in telemetry.points(name):
            yield from map(str, (point.attributes or {}).values())
