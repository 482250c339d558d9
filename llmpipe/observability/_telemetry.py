"""What the two OpenTelemetry layers share: tracer, instruments, switches.

``Telemetry.live()`` is the zero-cost gate, asked once per call by the call
layer (the attempt layer reads its answer). Until the application sets a
tracer or meter provider (or passes one), both layers hand each call
straight on, building nothing; once one is set they stay on (OpenTelemetry
sets a provider once, for good).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from llmpipe._dependencies import otel_provider_probe
from llmpipe._version import __version__
from llmpipe.observability import semconv as sc

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["Instruments", "Telemetry", "capture_from_env", "error_type", "fail_span"]


class Instruments:
    """The four ``gen_ai.client.*`` histograms, with the conventions' bucket advice."""

    __slots__ = ("duration", "first_chunk", "per_chunk", "tokens")

    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            sc.OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            sc.TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            sc.TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed reply, from the request.",
            explicit_bucket_boundaries_advisory=sc.TIME_TO_FIRST_CHUNK_BUCKETS,
        )
        self.per_chunk = meter.create_histogram(
            sc.TIME_PER_OUTPUT_CHUNK,
            unit="s",
            description="Time from the previous chunk to each chunk after the first.",
            explicit_bucket_boundaries_advisory=sc.TIME_PER_OUTPUT_CHUNK_BUCKETS,
        )


def capture_from_env() -> bool:
    """The conventions' content-capture switch, read from the environment."""
    return os.environ.get(sc.CAPTURE_CONTENT_ENV, "").strip().lower() in sc.CAPTURE_CONTENT_ON


class Telemetry:
    """Tracer, instruments and settings of one ``OpenTelemetryMiddleware``."""

    __slots__ = (
        "calls_traced",
        "capture_content",
        "instruments",
        "live",
        "on",
        "provider_name",
        "tracer",
    )

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        capture_content: bool,
        provider_name: str,
    ) -> None:
        self.tracer = trace.get_tracer(
            sc.INSTRUMENTATION_SCOPE, __version__, tracer_provider, schema_url=sc.SCHEMA_URL
        )
        meter = metrics.get_meter(
            sc.INSTRUMENTATION_SCOPE, __version__, meter_provider, schema_url=sc.SCHEMA_URL
        )
        self.instruments = Instruments(meter)
        self.capture_content = capture_content
        self.provider_name = provider_name
        explicit = tracer_provider is not None or meter_provider is not None
        self.live: Callable[[], bool] = _always if explicit else otel_provider_probe()
        """Whether anything takes telemetry: a provider was given, or the
        application has set a global one (once set, set for good)."""
        self.on = explicit
        """``live()`` has said True (the call layer records it here)."""
        self.calls_traced = False
        """The call layer is in a pipeline: the attempt layer then needs no
        probe of its own (while ``on`` is False, the call layer found nothing
        configured for this very call)."""


def _always() -> bool:
    return True


def error_type(error: BaseException) -> str:
    """``error.type`` for an exception: its class name (``RateLimitError``, ...)."""
    return type(error).__qualname__


def fail_span(span: Span, kind: str, error: BaseException | None) -> None:
    """Mark ``span`` failed with ``error.type`` = ``kind``; the span is not ended."""
    span.set_attribute(sc.ERROR_TYPE, kind)
    if error is not None:
        span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, None if error is None else str(error) or kind))
