"""What flows through the onion: ``LLMRequest`` in, ``LLMResponse`` out, and the
two typed side channels every layer shares.

``CallOptions`` are the per-call settings the caller gave that are not body
fields (``max_retries=``, ``tag=``, ...); layers read them, nobody writes
them. ``CallContext`` is how layers report outward what happened to a call
(the attempts retry made, whether a cache answered), one named field per
fact, each written by one layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from llmpipe import _json
from llmpipe._fast_init import unfrozen
from llmpipe.errors import LLMResponseError, snippet

if TYPE_CHECKING:
    from llmpipe.streaming.events import ByteSource, EventStream

__all__ = [
    "CALL_KEYWORDS",
    "CallContext",
    "CallOptions",
    "FallbackStep",
    "Headers",
    "LLMRequest",
    "LLMResponse",
    "headers_of",
    "new_request",
    "new_response",
]

_UNPARSED: Any = object()

Headers = CIMultiDict[str] | CIMultiDictProxy[str]
"""Reply headers, looked up without regard to case (as HTTP wants), everywhere."""


def headers_of(value: Mapping[str, str]) -> Headers:
    """Headers as a case-insensitive mapping: normalized once, where a reply is made."""
    if type(value) is CIMultiDictProxy:  # what aiohttp gives: the hot path, no work
        return value
    if isinstance(value, (CIMultiDictProxy, CIMultiDict)):
        return value
    return CIMultiDict(value)


@attrs.frozen(kw_only=True)
class CallOptions:
    """Per-call settings read by the layers; never sent to the server."""

    max_retries: int | None = None
    """Overrides the retry policy's limit for this call."""
    first_event_timeout: float | None = None
    """Seconds a stream may take to its first event."""
    idle_timeout: float | None = None
    """Seconds a stream may go without an event."""
    cache: bool | None = None
    """True: cache this call whatever the policy says; False: skip the cache."""
    tag: str | None = None
    """A label that usage tracking totals by."""
    deadline_at: float | None = None
    """The event loop's clock when the whole call (retries included) must end;
    set from the ``deadline=`` seconds a call is given."""


NO_OPTIONS = CallOptions()

CALL_KEYWORDS: tuple[str, ...] = (
    *(field.name for field in attrs.fields(CallOptions) if field.name != "deadline_at"),
    "deadline",
    "timeout",
    "extra_headers",
)
"""The keyword arguments of a call that are settings, not JSON body fields."""


def _as_options(value: CallOptions | Mapping[str, Any]) -> CallOptions:
    if isinstance(value, CallOptions):
        return value
    unknown = set(value) - {field.name for field in attrs.fields(CallOptions)}
    if unknown:
        raise TypeError(
            f"unknown per-call option(s) {sorted(unknown)}; known: "
            f"{[field.name for field in attrs.fields(CallOptions)]}"
        )
    return CallOptions(**value)


@attrs.frozen
class FallbackStep:
    """One move of a routed call from a deployment that failed to another.

    ``reason`` names the failure: "connection", "server" (5xx), "rate_limited"
    (429), "context_length" or "content_filter"; ``alias`` is the alias the
    call moved to (another one than the call's after those last two).
    """

    source: str
    target: str
    reason: str
    alias: str


@attrs.define(slots=True)
class CallContext:
    """What layers report outward about one call; each field has one writer."""

    attempts: int = 1
    """Attempts made so far (written by ``RetryMiddleware``; 1 without it)."""
    cache: Literal["hit", "miss"] | None = None
    """Whether a ``CacheMiddleware`` answered the call ("hit") or passed it on."""
    sends: int = 0
    """HTTP requests sent for the call so far, each retry, fallback or hedge one
    more (counted by the OpenTelemetry attempt layer; 0 without it)."""
    deployment: str | None = None
    """The deployment whose reply the call got (written by a ``Router``; None without one)."""
    fallbacks: tuple[FallbackStep, ...] = ()
    """Each move to another deployment, over every attempt of the call (``Router``)."""
    hedges: int = 0
    """Hedge requests the call sent: copies sent to a second deployment (``Router``)."""
    hedges_won: int = 0
    """Of those, the ones whose reply the call got; the others were sent and lost."""


@attrs.frozen
class LLMRequest:
    """One API call as middlewares see it. Frozen: a retry re-sends exactly this.

    ``endpoint`` is relative to the API root (``chat/completions``). ``context``
    is the one mutable part, shared by every copy ``attrs.evolve`` makes.
    """

    endpoint: str
    method: str = "POST"
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeout: float | None = None
    stream: bool = False
    options: CallOptions = attrs.field(default=NO_OPTIONS, converter=_as_options)
    context: CallContext = attrs.field(factory=CallContext, eq=False, repr=False)


_new = object.__new__
_RequestDraft = unfrozen(LLMRequest)
if [field.name for field in attrs.fields(LLMRequest)] != [
    *("endpoint", "method", "body", "headers", "timeout", "stream", "options", "context")
] or [(field.name, field.default) for field in attrs.fields(CallContext)] != [
    *(("attempts", 1), ("cache", None), ("sends", 0), ("deployment", None)),
    *(("fallbacks", ()), ("hedges", 0), ("hedges_won", 0)),
]:
    raise TypeError("LLMRequest or CallContext changed: update new_request")  # pragma: no cover


def new_request(
    endpoint: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    timeout: float | None,
    stream: bool,
    options: CallOptions,
) -> LLMRequest:
    """``LLMRequest(endpoint, body=..., headers=..., timeout=..., stream=..., options=...)``
    (a POST), built as the client's every call needs it: plain slot stores instead
    of ``__init__``'s keyword parsing and a setattr call per field (12k → 3k
    instructions). ``options`` must already be ``CallOptions``: nothing converts it."""
    request: Any = _new(_RequestDraft)
    request.endpoint = endpoint
    request.method = "POST"
    request.body = body
    request.headers = headers
    request.timeout = timeout
    request.stream = stream
    request.options = options
    request.context = context = _new(CallContext)  # CallContext(), without a call
    context.attempts = 1
    context.cache = None
    context.sends = 0
    context.deployment = None
    context.fallbacks = ()
    context.hedges = 0
    context.hedges_won = 0
    request.__class__ = LLMRequest
    return request  # type: ignore[no-any-return]


@attrs.define(on_setattr=attrs.setters.NO_OP)  # no hooks on assignment: a cheap __init__
class LLMResponse:
    """A reply: status, headers, raw body, and its JSON parsed once on demand.

    A streamed reply has an empty ``content``. The transport hands its body
    over as bytes (``byte_stream``); the pipeline reads server-sent events
    from them into ``stream``, which middlewares observe. ``elapsed`` then
    measures the time to the first event.
    """

    status: int
    headers: Headers = attrs.field(converter=headers_of)
    content: bytes
    request: LLMRequest
    elapsed: float = 0.0
    stream: EventStream | None = None
    byte_stream: ByteSource | None = attrs.field(default=None, repr=False, eq=False)
    _parsed: Any = attrs.field(default=_UNPARSED, init=False, repr=False, eq=False)

    @classmethod
    def from_json(
        cls,
        request: LLMRequest,
        payload: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> LLMResponse:
        """A response built in process, for middlewares that answer without HTTP."""
        response = cls(status, headers or {}, _json.dumps(payload), request)
        response._parsed = payload
        return response

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ``LLMResponseError`` if it is not JSON."""
        if self._parsed is _UNPARSED:
            try:
                self._parsed = _json.loads(self.content)
            except ValueError as exc:
                text = self.content.decode("utf-8", "replace")
                raise LLMResponseError(
                    f"{self.request.endpoint}: server replied {self.status} with a body that "
                    f"is not JSON ({snippet(text) or 'empty body'}); check base_url points "
                    "at an OpenAI-compatible API",
                    body=text,
                ) from exc
        return self._parsed

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


if [field.name for field in attrs.fields(LLMResponse)] != [
    *("status", "headers", "content", "request", "elapsed", "stream", "byte_stream", "_parsed")
]:
    raise TypeError("LLMResponse changed: update new_response")  # pragma: no cover


def new_response(
    status: int, headers: Headers, content: bytes, request: LLMRequest, elapsed: float
) -> LLMResponse:
    """``LLMResponse(status, headers, content, request, elapsed)`` for a whole reply,
    as the transport makes one per call: plain slot stores (the class has no
    setattr hooks) instead of ``__init__``'s converter call. ``headers`` must
    already be case-insensitive (aiohttp's are): nothing converts them."""
    response: Any = _new(LLMResponse)
    response.status = status
    response.headers = headers
    response.content = content
    response.request = request
    response.elapsed = elapsed
    response.stream = None
    response.byte_stream = None
    response._parsed = _UNPARSED
    return response  # type: ignore[no-any-return]
