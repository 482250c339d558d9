"""OpenTelemetryMiddleware: a GenAI client span and metrics for each call.

Follows the GenAI semantic conventions (``semconv.py`` names the version):
a CLIENT span ``"{gen_ai.operation.name} {gen_ai.request.model}"`` per chat,
text completion or embeddings call, and the ``gen_ai.client.*`` histograms.
Other endpoints (``models``) get no GenAI span.

Where it sits: outermost, so a call's span covers everything the caller
waits for (a cache hit, a budget refusal, every retry) and log records are
written inside it. A span per HTTP request needs a second layer inside
retry, where each attempt passes: ``attempts()`` makes it, and
``instrument(stack)`` places both::

    stack = OpenTelemetryMiddleware().instrument(default_middlewares(config))
    # OpenTelemetryMiddleware -> Logging -> Counting -> Retry -> Classify -> Session
    #     -> AttemptSpanMiddleware -> transport

Why two layers rather than one that reads ``request.context.attempts`` when
the call ends: only a layer the attempt passes through can time it, see its
status, and put its own span id in the ``traceparent`` the server receives.

A streamed call's span and duration end with the stream: at ``[DONE]``, an
error, an early close, or when the stream is dropped unfinished and
collected. With no tracer or meter provider set, a call passes through
untouched (see ``_telemetry.Telemetry.live``). Message content is recorded
only with ``capture_content=True`` or the conventions' environment switch;
no header is ever read, so the API key cannot reach telemetry.

Needs the ``otel`` extra (``pip install 'llmpipe[otel]'``): opentelemetry-api
only; which SDK and exporters run is the application's choice.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from llmpipe.errors import LLMError

try:
    from opentelemetry import context, trace
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "OpenTelemetryMiddleware needs opentelemetry-api: pip install 'llmpipe[otel]'"
    ) from exc

from llmpipe.observability import semconv as sc
from llmpipe.observability._attributes import (
    UNKNOWN_SERVER,
    Attributes,
    Server,
    operation_of,
    request_attributes,
    server_of,
)
from llmpipe.observability._call import Call, CallStream
from llmpipe.observability._content import input_messages
from llmpipe.observability._telemetry import Telemetry, capture_from_env, error_type
from llmpipe.observability.attempts import AttemptSpanMiddleware
from llmpipe.pipeline import Handler, Middleware, MiddlewareLike, MiddlewareStack
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.base import Transport
from llmpipe.wire.convert import structure_payload
from llmpipe.wire.models import ChatCompletionResponse, CompletionResponse, EmbeddingResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["OpenTelemetryMiddleware"]


class OpenTelemetryMiddleware(Middleware):
    """GenAI spans and metrics per call; ``attempts()`` adds a span per HTTP request.

    ``tracer_provider``/``meter_provider``: None uses the global ones (set
    with ``trace.set_tracer_provider``, before or after the client is made).
    ``capture_content``: record prompts and replies; None reads
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. ``provider_name``:
    ``gen_ai.provider.name``, "openai" (the API llmpipe speaks); name the
    actual provider when you know it ("azure.ai.openai", "groq", ...).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
        provider_name: str = sc.PROVIDER_OPENAI,
    ) -> None:
        if not isinstance(provider_name, str) or not provider_name:
            raise ValueError(
                f"provider_name must be a non-empty string such as 'openai', got {provider_name!r}"
            )
        capture = capture_from_env() if capture_content is None else bool(capture_content)
        self._telemetry = Telemetry(tracer_provider, meter_provider, capture, provider_name)
        self._server: Server = UNKNOWN_SERVER

    def __repr__(self) -> str:
        telemetry = self._telemetry
        return (
            f"OpenTelemetryMiddleware(provider_name={telemetry.provider_name!r}, "
            f"capture_content={telemetry.capture_content})"
        )

    def bind(self, transport: Transport) -> None:
        self._server = server_of(transport.origin)
        self._telemetry.calls_traced = True

    def attempts(self) -> AttemptSpanMiddleware:
        """The inner layer: one span per HTTP request, with ``traceparent`` sent.
        Place it inside ``RetryMiddleware`` (``instrument`` puts it innermost)."""
        return AttemptSpanMiddleware(self._telemetry)

    def instrument(self, stack: Iterable[MiddlewareLike]) -> MiddlewareStack:
        """``stack`` with this layer outermost and ``attempts()`` innermost."""
        return MiddlewareStack([self, *stack, self.attempts()])

    def wrap(self, call_next: Handler) -> Handler:
        """This layer composed with ``call_next``, once, by the pipeline (see
        ``llmpipe.pipeline``): with nothing configured a call then costs one
        Python call and the probe, where a link and ``__call__`` cost two."""
        telemetry = self._telemetry
        live = telemetry.live
        traced = self._traced

        def handle(request: LLMRequest) -> Awaitable[LLMResponse]:
            if not telemetry.on:
                if not live():
                    return call_next(request)  # nothing configured: no span, not even a coroutine
                telemetry.on = True
            operation = operation_of(request.endpoint)
            if operation is None:
                return call_next(request)
            return traced(request, call_next, operation)

        return handle

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)

    async def _traced(self, request: LLMRequest, call_next: Handler, operation: str) -> LLMResponse:
        telemetry = self._telemetry
        body: Any = request.body or {}
        model = body.get("model")
        metric: Attributes = {
            sc.OPERATION_NAME: operation,
            sc.PROVIDER_NAME: telemetry.provider_name,
            **self._server.attributes,
        }
        if isinstance(model, str) and model:
            metric[sc.REQUEST_MODEL] = model
        attributes = {**metric, **request_attributes(operation, body, request.stream)}
        if telemetry.capture_content:
            content = input_messages(operation, body)
            if content is not None:
                attributes[sc.INPUT_MESSAGES] = content
        span = telemetry.tracer.start_span(
            f"{operation} {model}" if sc.REQUEST_MODEL in metric else operation,
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        call = Call(telemetry, span, operation, metric, time.perf_counter())
        token = context.attach(trace.set_span_in_context(span))
        try:
            response = await call_next(request)
        except BaseException as error:
            call.fail(error_type(error), error)
            raise
        finally:
            context.detach(token)
        if not response.ok:  # a stack without ClassifyErrorsMiddleware returns it
            call.fail(str(response.status), None)
        elif response.stream is not None:
            CallStream(call, operation == sc.CHAT).watch(response.stream)
        else:
            try:
                payload = response.json()
                _check_fit(operation, payload, response)
            except LLMError as error:  # not JSON, or not a reply: the client raises the same
                call.fail(error_type(error), error)
            else:
                call.reply(payload)
        return response


_REPLY_MODELS: dict[str, type[Any]] = {
    sc.CHAT: ChatCompletionResponse,
    sc.TEXT_COMPLETION: CompletionResponse,
    sc.EMBEDDINGS: EmbeddingResponse,
}


def _check_fit(operation: str, payload: Any, response: LLMResponse) -> None:
    """Raise the ``LLMResponseError`` the client will raise for JSON that is not
    the operation's reply (it structures the reply after the whole onion, when
    this span has ended): structured twice, but only when telemetry is on."""
    model = _REPLY_MODELS.get(operation)
    if model is not None:
        structure_payload(payload, model, response.request.endpoint, response.text)
