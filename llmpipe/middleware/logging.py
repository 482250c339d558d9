"""LoggingMiddleware: one line when a call starts, one when it ends.

Templates are constants and carry no prompt text and no headers, so neither
a user's data nor the API key reaches a log. Records go to loguru's
``llmpipe`` logger, which is disabled until ``llmpipe.enable_logging()``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from llmpipe import logs
from llmpipe.errors import LLMError
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent
from llmpipe.wire.usage import reply_usage

__all__ = ["LoggingMiddleware"]

_START = "request {method} {endpoint} model={model} messages={messages} temperature={temperature}"
_DETAIL = "request {endpoint} parameters: {parameters}"
_DONE = "response {endpoint} status={status} id={id} tokens={tokens} in {elapsed:.3f} s"
_FAILED = "request {endpoint} failed after {elapsed:.3f} s: {error_type}: {error}"
_STREAMING = "response {endpoint} status={status} streaming, first event after {elapsed:.3f} s"
_STREAM_DONE = (
    "stream {endpoint} ended: events={events} complete={completed} "
    "first event after {first:.3f} s, total {elapsed:.3f} s"
)
_STREAM_FAILED = (
    "stream {endpoint} failed after {events} events in {elapsed:.3f} s: {error_type}: {error}"
)

_ERROR = logs.ERROR
_NOT_PARAMETERS = frozenset({"messages", "prompt", "input"})


class LoggingMiddleware(Middleware):
    """INFO for each call and reply, DEBUG for parameters, ERROR for failures."""

    def __repr__(self) -> str:
        return "LoggingMiddleware()"

    def wrap(self, call_next: Handler) -> Handler:
        """The layer composed once with ``call_next`` (see ``llmpipe.pipeline``):
        one Python call per call where a link and ``__call__`` cost two. The
        gate is still read per call: logging may be turned on at any time."""
        active, logged = logs.active, self._logged

        def handle(request: LLMRequest) -> Awaitable[LLMResponse]:
            if not active(__name__, _ERROR):
                return call_next(request)  # logging is off: no records, no coroutine of our own
            return logged(request, call_next)

        return handle

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)

    async def _logged(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        body: Any = request.body or {}
        messages = body.get("messages")
        logs.info(
            _START,
            method=request.method,
            endpoint=request.endpoint,
            model=body.get("model", "-"),
            messages=len(messages) if isinstance(messages, list) else "-",
            temperature=body.get("temperature", "-"),
        )
        if logs.active(__name__, logs.DEBUG):
            logs.debug(
                _DETAIL,
                endpoint=request.endpoint,
                parameters={k: v for k, v in body.items() if k not in _NOT_PARAMETERS},
            )
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except LLMError as error:
            logs.error(
                _FAILED,
                endpoint=request.endpoint,
                elapsed=time.perf_counter() - started,
                error_type=type(error).__name__,
                error=error,
            )
            raise
        if response.stream is not None:
            logs.info(
                _STREAMING,
                endpoint=request.endpoint,
                status=response.status,
                elapsed=response.elapsed,
            )
            response.stream.observe(_StreamLog(request.endpoint))
            return response
        payload = _json_or_none(response)
        usage = reply_usage(response)
        logs.info(
            _DONE,
            endpoint=request.endpoint,
            status=response.status,
            id=payload.get("id", "-") if isinstance(payload, dict) else "-",
            tokens="-" if usage is None else usage.total_tokens,
            elapsed=time.perf_counter() - started,
        )
        return response


class _StreamLog:
    """Reports a stream once it ends: events, time to first event, total time."""

    __slots__ = ("_endpoint",)
    wants_events = False  # the end alone: no call per event

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    def on_event(self, event: ServerSentEvent) -> None:
        pass

    def on_end(self, summary: StreamSummary) -> None:
        if summary.error is not None:
            logs.error(
                _STREAM_FAILED,
                endpoint=self._endpoint,
                events=summary.events,
                elapsed=summary.elapsed,
                error_type=type(summary.error).__name__,
                error=summary.error,
            )
            return
        logs.info(
            _STREAM_DONE,
            endpoint=self._endpoint,
            events=summary.events,
            completed=summary.completed,
            first=summary.first_event_after or 0.0,
            elapsed=summary.elapsed,
        )


def _json_or_none(response: LLMResponse) -> Any:
    try:
        return response.json()
    except LLMError:
        return None
