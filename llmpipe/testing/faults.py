"""Scripted misbehaviour for the test server.

A `Fault` says how the server should answer the next matching request
instead of answering it properly: the failures a real provider or a proxy in
front of it produces (rate limits, HTML error pages, stalls, dropped
connections, truncated JSON, streams that break off or stall). Faults are
plain data; `_replies` and `_events` turn one into an HTTP reply, so the two
can be read and tested apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["LINE_ENDINGS", "SPLIT_PAUSE", "Fault"]

# The line terminators a server-sent event stream may use.
LINE_ENDINGS = ("\n", "\r\n", "\r")
# Seconds between the two halves of a split echo: long enough for the client
# to have read the first half before the second arrives.
SPLIT_PAUSE = 0.05


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Copy the headers, so a caller mutating its dict cannot change a queued fault."""
    return MappingProxyType(dict(headers))


def _check_status(_: Fault, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and not 200 <= value <= 599:
        raise ValueError(f"status must be a final HTTP status (200-599), got {value}")


def _count(least: int) -> Callable[[Fault, attrs.Attribute[int | None], int | None], None]:
    """A validator of an optional int field of at least `least` (bools refused)."""

    def check(_: Fault, attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            raise ValueError(f"{attribute.name} must be an integer >= {least}, got {value!r}")

    return check


@attrs.frozen
class Fault:
    """How to answer one request instead of answering it properly.

    Queued with `LLMServer.add_faults`; each request whose path ends with
    `path` (any request if `path` is None) consumes the fault at the head of
    the queue. Requests to other paths pass untouched and leave it queued.
    Faults apply before the API key check, and to streaming requests too
    (a status fault answers a `"stream": true` request with its JSON error).

    - `status` with no `body`: an OpenAI-style JSON error for that status
      (below 400, an empty body).
    - `body`: a dict is sent as JSON; a str as text/html (a proxy's error
      page); bytes as application/octet-stream. `content_type` overrides the
      type. Without `status` the body comes with 200.
    - `malformed`: 200 (or `status`) with a truncated JSON object labelled
      application/json.
    - `drop`: the connection is closed and nothing at all is sent. aiohttp
      clients resend an idempotent request (GET) once after a disconnect, so
      a dropped GET is usually followed by a second request.
    - `delay`: seconds to wait before any of the above; with nothing else set
      the request is then answered properly (stall past a client timeout).
    - `headers`: extra response headers (Retry-After, ...); with nothing else
      set the request is answered properly with these headers added.
    - `echo_key`: the error repeats the API key the request carried (its
      `Authorization: Bearer` token; "" if none), as careless providers and
      proxies do: the message ends "The request's key was <key>.". Given
      with a `status` of 400 or more (no `body`), in that JSON error; with
      `error_after_events`, in the error event. A client must mask it.

    Stream faults shape the answer to a streaming request (`"stream": true`
    to chat or text completions). A request that is not answered with a
    stream still consumes the fault, but is answered as if only `headers`
    (and `delay`, unless it is a stall's) were set. Events are the JSON
    chunks; comments and `data: [DONE]` do not count, and an N at or past the
    number of chunks acts where `[DONE]` would have been sent.

    - `error_after_events`: after N events, one event whose data is
      `{"error": {"message", "type", "param": null, "code"}}`, then the
      response ends properly, without `[DONE]`. `status` (default 500) picks
      `type`: "rate_limit_exceeded" for 429, "server_error" for 5xx,
      "invalid_request_error" otherwise; `code` is OpenAI's string for it
      ("rate_limit_exceeded", "invalid_api_key", ...; null when none), or
      with `int_error_code` the status as an int, as vLLM sends it. N=0: the
      error is the first event.
    - `drop_after_events`: after N events the connection is closed, with
      neither `[DONE]` nor the end of the chunked body: a truncated stream.
      N=0: the status and headers arrive, then the connection drops.
    - `stall_after_events`: after N events, wait `delay` seconds (then, and
      not before answering), then go on. N=0 stalls between the headers and
      the first event. With `keepalive_interval`, a `: keep-alive` comment is
      sent every that many seconds of the stall (they must not count as
      activity for a client's idle timeout). A stall comes before an error
      or a drop at the same N.
    - `chunk_size`: the stream's bytes are written in pieces of this many
      bytes, each its own HTTP chunk (1: byte by byte, splitting UTF-8
      characters and "\\r\\n" pairs). TCP may still merge pieces on the way.
    - `line_ending`: "\\n" (default), "\\r\\n" or "\\r" ends every line.
    - `sse_comments`: each event is preceded by a comment-only block, and its
      own block starts with a comment, a `retry:` field and two unknown
      fields (`foo: bar`, `foo`), all of which a client must ignore.
    - `multiline_data`: the JSON is pretty-printed over several `data:` lines,
      which a client joins with "\\n" back into the same JSON.
    - `split_echo`: with `echo_key` and `error_after_events`, the error event
      is written in two HTTP chunks cut in the middle of the key, with
      `SPLIT_PAUSE` seconds between them so the client reads them apart
      (masking chunk by chunk would miss the key).
    """

    status: int | None = attrs.field(default=None, validator=_check_status)
    body: str | bytes | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_headers)
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    drop: bool = False
    malformed: bool = False
    content_type: str | None = None
    path: str | None = None
    error_after_events: int | None = attrs.field(default=None, validator=_count(0))
    drop_after_events: int | None = attrs.field(default=None, validator=_count(0))
    stall_after_events: int | None = attrs.field(default=None, validator=_count(0))
    keepalive_interval: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0.0))
    )
    chunk_size: int | None = attrs.field(default=None, validator=_count(1))
    line_ending: str = attrs.field(default="\n", validator=attrs.validators.in_(LINE_ENDINGS))
    sse_comments: bool = False
    multiline_data: bool = False
    echo_key: bool = False
    split_echo: bool = False
    int_error_code: bool = False

    def __attrs_post_init__(self) -> None:
        # Reject combinations whose parts would be silently ignored.
        if self.drop and (
            self.status is not None
            or self.body is not None
            or self.headers
            or self.malformed
            or self.content_type is not None
            or self.shapes_stream
        ):
            raise ValueError("a dropped connection sends nothing: drop excludes every reply field")
        if self.malformed and self.body is not None:
            raise ValueError("malformed supplies its own body: do not also give body")
        if self.content_type is not None and self.body is None and not self.malformed:
            raise ValueError("content_type labels a body: give body or malformed with it")
        if self.echo_key and not self._sends_an_error:
            raise ValueError(
                "echo_key puts the key in an error the server writes: give it with a status "
                ">= 400 (and no body or malformed), or with error_after_events"
            )
        if self.int_error_code and self.error_after_events is None:
            raise ValueError(
                "int_error_code shapes an error event: give error_after_events with it"
            )
        if self.shapes_stream:
            self._check_stream_fields()

    def _check_stream_fields(self) -> None:
        if self.replaces_answer:
            raise ValueError(
                "stream faults shape a streamed answer, which body, malformed and status "
                "replace: give status only with error_after_events"
            )
        if self.error_after_events is not None and self.drop_after_events is not None:
            raise ValueError(
                "a stream ends once: give error_after_events or drop_after_events, not both"
            )
        if self.error_after_events is not None and self.status is not None and self.status < 400:
            raise ValueError("the status of an error event must be an error status (400-599)")
        if self.stall_after_events is not None and not self.delay:
            raise ValueError("stall_after_events stalls for delay seconds: give a delay > 0")
        if self.keepalive_interval is not None and self.stall_after_events is None:
            raise ValueError("keepalive_interval fills a stall: give stall_after_events with it")
        if self.split_echo and not (self.echo_key and self.error_after_events is not None):
            raise ValueError("split_echo cuts an echoed key: give echo_key and error_after_events")
        end = self.error_after_events if self.drop_after_events is None else self.drop_after_events
        stall = self.stall_after_events
        if end is not None and stall is not None and stall > end:
            raise ValueError(f"the stream ends after {end} events, before the stall would begin")

    @property
    def _sends_an_error(self) -> bool:
        """Whether the server writes an error of its own: a JSON one or an event."""
        json_error = self.status is not None and self.status >= 400 and self.body is None
        return self.error_after_events is not None or (json_error and not self.malformed)

    @property
    def replaces_answer(self) -> bool:
        """Whether the fault answers in place of the real endpoint."""
        status_reply = self.status is not None and self.error_after_events is None
        return self.drop or self.malformed or status_reply or self.body is not None

    @property
    def shapes_stream(self) -> bool:
        """Whether any stream fault field is set."""
        return (
            self.error_after_events is not None
            or self.drop_after_events is not None
            or self.stall_after_events is not None
            or self.keepalive_interval is not None
            or self.chunk_size is not None
            or self.line_ending != "\n"
            or self.sse_comments
            or self.multiline_data
            or self.split_echo
        )

    @property
    def delay_before_answer(self) -> float:
        """Seconds to wait before answering: `delay`, unless it is a stall's length."""
        return 0.0 if self.stall_after_events is not None else self.delay

    def applies_to(self, path: str) -> bool:
        """Whether a request to `path` should consume this fault."""
        return self.path is None or path.endswith(self.path)
