"""AttemptSpanMiddleware: one HTTP client span per request sent, and ``traceparent``.

Made by ``OpenTelemetryMiddleware.attempts()``. It must sit inside
``RetryMiddleware`` (and below anything else that sends a call several times:
a fallback, a hedge), where each request passes once; innermost, just above
the transport, is best: it then sees raw statuses and times only the HTTP
exchange. Each span follows the HTTP client conventions: named by the method,
with ``http.request.method``, ``server.address``/``server.port``,
``url.full`` (the API root and endpoint, never credentials),
``http.response.status_code``, ``http.request.resend_count`` from the second
request of a call on, and ``error.type`` (the status, or the exception's
class). The W3C ``traceparent`` (and any other header the application's
propagators write) goes into the request's headers, so the server's spans
join the trace. A streamed reply's span ends when its stream does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

try:
    from opentelemetry import context, propagate, trace
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "AttemptSpanMiddleware needs opentelemetry-api: pip install 'llmpipe[otel]'"
    ) from exc

from llmpipe.observability import semconv as sc
from llmpipe.observability._attributes import UNKNOWN_SERVER, Server, server_of
from llmpipe.observability._streams import StreamWatch, end_of
from llmpipe.observability._telemetry import Telemetry, error_type, fail_span
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.transport.base import Transport

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from opentelemetry.trace import Span

__all__ = ["AttemptSpanMiddleware"]


class AttemptSpanMiddleware(Middleware):
    """A span per HTTP request; shares its ``OpenTelemetryMiddleware``'s tracer."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._server: Server = UNKNOWN_SERVER

    def __repr__(self) -> str:
        return "AttemptSpanMiddleware()"

    def bind(self, transport: Transport) -> None:
        self._server = server_of(transport.origin)

    def wrap(self, call_next: Handler) -> Handler:
        """This layer composed with ``call_next``, once, by the pipeline (see
        ``llmpipe.pipeline``): with nothing configured a call then costs one
        Python call, where a link and ``__call__`` cost two. Under the call
        layer (``calls_traced``) it asks no probe: that layer's answer is in
        ``on``, and it is read per call, as the call layer is bound after this."""
        telemetry = self._telemetry
        live = telemetry.live
        traced = self._traced

        def handle(request: LLMRequest) -> Awaitable[LLMResponse]:
            if not telemetry.on and (telemetry.calls_traced or not live()):
                return call_next(request)  # nothing configured: no span, not even a coroutine
            return traced(request, call_next)

        return handle

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)

    async def _traced(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        calls = request.context
        resends = calls.sends
        calls.sends = resends + 1
        server = self._server
        method = request.method.upper()
        attributes = {sc.HTTP_REQUEST_METHOD: method, **server.attributes}
        if server.url_root is not None:
            attributes[sc.URL_FULL] = server.url_root + request.endpoint.lstrip("/")
        if resends:
            attributes[sc.HTTP_REQUEST_RESEND_COUNT] = resends
        span = self._telemetry.tracer.start_span(
            method, kind=trace.SpanKind.CLIENT, attributes=attributes
        )
        here = trace.set_span_in_context(span)
        if span.get_span_context().is_valid:
            headers = dict(request.headers)
            propagate.inject(headers, context=here)
            request = attrs.evolve(request, headers=headers)
        token = context.attach(here)
        try:
            response = await call_next(request)
        except BaseException as error:
            fail_span(span, error_type(error), error)
            span.end()
            raise
        finally:
            context.detach(token)
        span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, response.status)
        if response.status >= 400:
            fail_span(span, str(response.status), None)
        if response.stream is not None:
            _AttemptStream(span).watch(response.stream)
        else:
            span.end()
        return response


class _AttemptStream(StreamWatch):
    """Ends a streamed attempt's span with its stream."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._span = span

    def finish(self, summary: StreamSummary | None) -> None:
        span = self._span
        span.set_attribute(sc.STREAM_END, end_of(summary))
        if summary is not None and summary.error is not None:
            fail_span(span, error_type(summary.error), summary.error)
        span.end()
