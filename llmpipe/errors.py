"""The one exception tree every layer of llmpipe reasons about.

::

    LLMError
    ├── LLMConnectionError          refused, reset, DNS, TLS
    │   └── LLMTimeoutError         a deadline passed before the reply arrived
    ├── ClientClosedError           the client was used after close()
    ├── UsageLimitExceeded          a token or cost budget would be exceeded (nothing sent)
    ├── LLMAPIError                 non-2xx reply: .status_code, .body, .request_id
    │   ├── BadRequestError             400
    │   ├── AuthenticationError         401
    │   ├── PermissionDeniedError       403
    │   ├── NotFoundError               404
    │   ├── UnprocessableEntityError    422
    │   ├── RateLimitError              429
    │   └── InternalServerError         5xx
    └── LLMResponseError            2xx, but malformed or truncated
        ├── StreamTruncatedError    the stream ended before [DONE]; .partial holds what came
        ├── IncompleteOutputError   structured output cut short (finish_reason length or
        │                           content_filter); .finish_reason, .reply
        └── RefusalError            the model refused the structured output; .refusal, .reply

Foreign exceptions (aiohttp, asyncio) are mapped once, at the transport
boundary, and chained with ``raise ... from exc``. Replies become errors here
too, once: a status picks the class (``error_for_status``), and the body's
message is read across the formats servers use (OpenAI's
``{"error": {"message"}}``, FastAPI's ``{"detail"}``, Ollama's
``{"error": "text"}``, a proxy's HTML page).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from multidict import CIMultiDict

from llmpipe import _json

if TYPE_CHECKING:
    from llmpipe.request import LLMResponse

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "IncompleteOutputError",
    "InternalServerError",
    "LLMAPIError",
    "LLMConnectionError",
    "LLMError",
    "LLMResponseError",
    "LLMTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RefusalError",
    "StreamTruncatedError",
    "UnprocessableEntityError",
    "UsageLimitExceeded",
    "api_error_from",
    "api_error_from_event",
    "error_for_status",
]

_SNIPPET_CHARS = 200


class LLMError(Exception):
    """Base of every error llmpipe raises.

    ``not_retried`` says why a retryable failure was not retried (deadline,
    retry budget); after retries, ``attempts`` and ``elapsed`` say how many
    attempts the call made over how long. All are part of the message.
    """

    not_retried: str | None = None
    attempts: int = 1
    """Attempts the call made, the last one included (set by ``RetryMiddleware``)."""
    elapsed: float | None = None
    """Seconds from the first attempt's start to this error, when the call was
    retried; None when it was not (the message then says nothing of attempts)."""

    def __str__(self) -> str:
        return _with_reason(super().__str__(), self)

    def not_retried_because(self, reason: str) -> Self:
        """A copy of this error that says why it was not retried.

        A copy, not an edit: the raised error may be shared (a cache's
        single-flight waiters all receive the same one), and what one layer
        adds must not show up in another call's error.
        """
        return self._copy(not_retried=reason)

    def after_attempts(self, attempts: int, elapsed: float) -> Self:
        """A copy of this error that says the call made ``attempts`` over ``elapsed`` s."""
        return self._copy(attempts=attempts, elapsed=elapsed)

    def _copy(self, **fields: Any) -> Self:
        copy = type(self).__new__(type(self), *self.args)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(fields)
        copy.__cause__ = self.__cause__
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle's default calls ``cls(*args)``, which breaks on keyword-only
        # fields (StreamTruncatedError's ``events``); rebuild without __init__.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[LLMError], args: tuple[Any, ...], state: dict[str, Any]) -> LLMError:
    """An error unpickled: its args and fields as they were, ``__init__`` not run."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def _with_reason(text: str, error: LLMError) -> str:
    """The message, then the attempts made (after retries) and why no more were."""
    if error.elapsed is not None:
        text = f"{text}; gave up after {error.attempts} attempts over {error.elapsed:.1f} s"
    if error.not_retried is not None:
        text = f"{text} (not retried: {error.not_retried})"
    return text


class LLMConnectionError(LLMError):
    """The server could not be reached, or the connection broke mid-call."""


class LLMTimeoutError(LLMConnectionError):
    """No complete reply within the configured timeout."""


class ClientClosedError(LLMError):
    """The client was used after ``close()``."""


class UsageLimitExceeded(LLMError):
    """A call would exceed a token or cost budget; it was not sent."""


class LLMResponseError(LLMError):
    """The server said 2xx but the reply cannot be understood."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


class StreamTruncatedError(LLMResponseError):
    """A stream ended (connection closed) before ``data: [DONE]``.

    ``events`` counts the events received; ``partial`` is the reply folded
    from them (text, tool calls, usage so far), so nothing received is lost.
    """

    def __init__(self, message: str, *, events: int, partial: Any = None) -> None:
        super().__init__(message)
        self.events = events
        self.partial = partial

    def with_partial(self, partial: Any) -> StreamTruncatedError:
        """The same truncation, holding the reply folded from what came (a new error)."""
        error = StreamTruncatedError(self.args[0], events=self.events, partial=partial)
        error.__dict__.update(
            (name, value)
            for name, value in self.__dict__.items()
            if name in ("not_retried", "attempts", "elapsed")
        )
        return error


class IncompleteOutputError(LLMResponseError):
    """The model stopped before its structured output was complete.

    ``finish_reason`` is "length" (the token limit: raise ``max_tokens``) or
    "content_filter"; ``reply`` is the whole reply, text included.
    """

    def __init__(self, message: str, *, finish_reason: str, reply: Any) -> None:
        super().__init__(message, body=reply)
        self.finish_reason = finish_reason
        self.reply = reply


class RefusalError(LLMResponseError):
    """The model refused to give the structured output; ``refusal`` says why."""

    def __init__(self, message: str, *, refusal: str, reply: Any) -> None:
        super().__init__(message, body=reply)
        self.refusal = refusal
        self.reply = reply


class LLMAPIError(LLMError):
    """The server answered with a non-2xx status.

    ``body`` is the decoded JSON when the server sent JSON, else the text.
    ``headers`` are kept so retry policies can read ``Retry-After``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        text = f"{self.status_code}: {self.args[0]}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return _with_reason(text, self)


class BadRequestError(LLMAPIError):
    """400: the request was malformed; fix it rather than retrying."""


class AuthenticationError(LLMAPIError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(LLMAPIError):
    """403: the key is valid but may not use this resource."""


class NotFoundError(LLMAPIError):
    """404: unknown model or endpoint."""


class UnprocessableEntityError(LLMAPIError):
    """422: the server understood the request but rejects its content."""


class RateLimitError(LLMAPIError):
    """429: slow down; ``headers`` may say how long to wait."""


class InternalServerError(LLMAPIError):
    """5xx: the server (or a proxy in front of it) failed."""


_BY_STATUS: dict[int, type[LLMAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[LLMAPIError]:
    """The most specific ``LLMAPIError`` class for an HTTP status."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, LLMAPIError)


def snippet(text: str) -> str:
    """A short single-line excerpt of a body, for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[:_SNIPPET_CHARS] + "…"


# -- replies to errors --------------------------------------------------

_TAG = re.compile(r"<[^>]*>")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")

# Error events inside a 200 stream carry no HTTP status: servers put an int
# ``code`` (vLLM, llama.cpp), a digit string one (LiteLLM), or only OpenAI's
# string ``code`` and ``type``, read in that order.
_STATUS_BY_TYPE = {
    "invalid_api_key": 401,
    "model_not_found": 404,
    "not_found": 404,
    "context_length_exceeded": 400,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_exceeded": 429,
    "requests": 429,
    "tokens": 429,
    "overloaded_error": 503,
    "server_error": 500,
}


def _decode(content: bytes) -> Any:
    text = content.decode("utf-8", "replace")
    try:
        return _json.loads(content)
    except ValueError:
        return text


def _server_message(body: Any) -> str:
    """The human part of an error body, across the formats servers use."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                text = error.get(key)
                if isinstance(text, str):
                    return text
        if isinstance(error, str):
            return error
        for key in ("detail", "message"):
            if key in body:
                return str(body[key])
        return snippet(_json.dumps(body).decode())
    if isinstance(body, str):
        return snippet(_TAG.sub(" ", body)) or "empty body"
    return snippet(repr(body))


_KEY_HINT = (
    " (check the API key: give api_key= to LLM() or LLMConfig(), or set LLMPIPE_API_KEY "
    "or OPENAI_API_KEY, which LLMConfig.from_env() and the llmpipe CLI read)"
)
"""Added to every 401: where the key a call sends comes from (never the key)."""


def _hinted(cls: type[LLMAPIError], message: str) -> str:
    return message + _KEY_HINT if cls is AuthenticationError else message


def api_error_from(response: LLMResponse) -> LLMAPIError:
    """The ``LLMAPIError`` subclass that describes a non-2xx response."""
    headers = CIMultiDict(response.headers)  # a copy the error owns (and pickles)
    body = _decode(response.content)
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    cls = error_for_status(response.status)
    message = _hinted(cls, f"{response.request.endpoint}: {_server_message(body)}")
    return cls(
        message, status_code=response.status, body=body, request_id=request_id, headers=headers
    )


def api_error_from_event(payload: Any, endpoint: str) -> LLMAPIError:
    """The ``LLMAPIError`` for an error event inside a stream.

    ``payload`` is the event's JSON: ``{"error": {...}}`` (OpenAI, vLLM,
    LiteLLM), or the error object itself (an ``event: error`` or a
    llama.cpp ``error:`` line). Its status is an int ``code`` or ``status``
    (vLLM, llama.cpp), or a digit string one (LiteLLM's ``"code": "429"``),
    else guessed from the OpenAI ``type``, else 500.
    """
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    status = 500
    if isinstance(error, dict):
        for key in ("code", "status"):
            code = _status_code(error.get(key))
            if code is not None:
                status = code
                break
        else:
            known = (_STATUS_BY_TYPE.get(str(error.get(key))) for key in ("code", "type"))
            status = next((s for s in known if s is not None), 500)
    cls = error_for_status(status)
    message = _hinted(cls, f"{endpoint}: error event in stream: {_server_message(payload)}")
    return cls(message, status_code=status, body=payload)


def _status_code(value: Any) -> int | None:
    """An HTTP error status given as an int or as digits, else None."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
        return value
    return None
