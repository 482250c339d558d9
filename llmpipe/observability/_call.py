"""One GenAI call's span and measurements, from its start until it ends.

A plain reply ends the call at once (``reply`` or ``fail``); a streamed one
when its stream ends, through ``CallStream``, which also times the chunks:
time to first chunk (from the call's start to the first chunk received,
retries included) and the time between chunks as the caller reads them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from llmpipe.observability import semconv as sc
from llmpipe.observability._attributes import Attributes, response_attributes
from llmpipe.observability._content import output_messages
from llmpipe.observability._streams import ReplyFold, StreamWatch, end_of
from llmpipe.observability._telemetry import Telemetry, error_type, fail_span
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["Call", "CallStream"]


class Call:
    """One call's span and metric attributes, until it ends.

    ``metric`` is replaced, never changed, once recorded with: an SDK may keep
    the very dict it was given.
    """

    __slots__ = ("metric", "operation", "span", "started", "telemetry")

    def __init__(
        self,
        telemetry: Telemetry,
        span: Span,
        operation: str,
        metric: Attributes,
        started: float,
    ) -> None:
        self.telemetry = telemetry
        self.span = span
        self.operation = operation
        self.metric = metric
        self.started = started

    def reply(self, payload: Any, ended: float | None = None) -> None:
        """The call succeeded with ``payload`` (a reply's JSON, or a stream folded)."""
        found = response_attributes(self.operation, payload)
        model = found.get(sc.RESPONSE_MODEL)
        if model is not None:
            self.metric = {**self.metric, sc.RESPONSE_MODEL: model}
        span = self.span
        if span.is_recording():
            if self.telemetry.capture_content:
                content = output_messages(self.operation, payload)
                if content is not None:
                    found[sc.OUTPUT_MESSAGES] = content
            span.set_attributes(found)
        self._record(ended, found)

    def fail(self, kind: str, error: BaseException | None, payload: Any = None) -> None:
        """The call failed; ``payload``: what a stream had folded before it broke."""
        if payload is not None and self.span.is_recording():
            self.span.set_attributes(response_attributes(self.operation, payload))
        fail_span(self.span, kind, error)
        self.metric = {**self.metric, sc.ERROR_TYPE: kind}
        self._record(None, {})

    def _record(self, ended: float | None, found: Attributes) -> None:
        now = time.perf_counter()
        end = now if ended is None else ended
        instruments = self.telemetry.instruments
        metric = self.metric
        instruments.duration.record(end - self.started, metric)
        for count, token_type in (
            (found.get(sc.USAGE_INPUT_TOKENS), sc.TOKEN_INPUT),
            (found.get(sc.USAGE_OUTPUT_TOKENS), sc.TOKEN_OUTPUT),
        ):
            if count is not None:
                instruments.tokens.record(count, {**metric, sc.TOKEN_TYPE: token_type})
        if ended is None:
            self.span.end()
        else:  # the end was earlier than now (a dropped stream's last chunk)
            self.span.end(time.time_ns() - int((now - end) * 1e9))


class CallStream(StreamWatch):
    """Ends a streamed call's span when its stream ends; records the chunk timings."""

    __slots__ = ("_call", "_chunks", "_first_at", "_fold", "_last_at")

    def __init__(self, call: Call, chat: bool) -> None:
        super().__init__()
        self._call = call
        self._fold = ReplyFold(chat, call.telemetry.capture_content)
        self._chunks = 0
        self._first_at = self._last_at = time.perf_counter()  # the first chunk is in
        first_chunk = self._first_at - call.started
        if call.span.is_recording():
            call.span.set_attribute(sc.RESPONSE_TIME_TO_FIRST_CHUNK, first_chunk)

    def on_event(self, event: ServerSentEvent) -> None:
        try:
            chunk = event.json()
        except ValueError:
            chunk = None
        self._fold.add(chunk)
        now = time.perf_counter()
        call = self._call
        if self._chunks == 0:
            self._record_first(chunk)
        else:
            call.telemetry.instruments.per_chunk.record(now - self._last_at, call.metric)
        self._chunks += 1
        self._last_at = now

    def _record_first(self, chunk: Any) -> None:
        call = self._call
        model = chunk.get("model") if isinstance(chunk, dict) else None
        if isinstance(model, str) and model:
            call.metric = {**call.metric, sc.RESPONSE_MODEL: model}
        call.telemetry.instruments.first_chunk.record(self._first_at - call.started, call.metric)

    def finish(self, summary: StreamSummary | None) -> None:
        call = self._call
        if self._chunks == 0:  # closed before the first chunk was read: it was received
            self._record_first(None)
        if call.span.is_recording():
            call.span.set_attribute(sc.STREAM_END, end_of(summary))
        if summary is not None and summary.error is not None:
            call.fail(error_type(summary.error), summary.error, self._fold.result())
        else:
            call.reply(self._fold.result(), None if summary is not None else self._last_at)
