"""OpenAI-style error replies, and the error events sent inside a stream.

Clients classify failures by the `type` and `code` of the error object as
well as by the HTTP status, so every error the test server sends, real or
scripted, has the shape the OpenAI API uses.

An error that happens once a stream has begun cannot change the 200 already
sent, so it travels as an event whose data is `{"error": {...}}` (OpenAI and
vLLM both do this). OpenAI's error object then has no status at all: its
`code` is a string or null, as in every OpenAI error; vLLM (and llama.cpp)
put the status it would have sent as an int `code`. `stream_error` speaks
OpenAI's dialect unless asked for vLLM's.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["ApiError", "echoed", "stream_error"]

# (type, code) of the errors the OpenAI API sends for these statuses.
_KNOWN: dict[int, tuple[str, str | None]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


class ApiError(Exception):
    """An error reply, raised by the endpoint logic and rendered by the server."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    @classmethod
    def for_status(cls, status: int, echo: str | None = None) -> ApiError:
        """The error a provider would plausibly send with `status` (used by faults);
        `echo`: a key it carelessly repeats (`echoed`)."""
        fallback = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
        type_, code = _KNOWN.get(status, fallback)
        message = echoed(f"Simulated fault: {status} {_reason(status)}.", echo)
        return cls(status, message, type=type_, code=code)

    def payload(self) -> dict[str, Any]:
        """The JSON body: `{"error": {"message", "type", "param", "code"}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def stream_error(status: int, echo: str | None = None, *, int_code: bool = False) -> dict[str, Any]:
    """The data of an error event standing for `status` (400-599) mid-stream.

    `{"error": {"message", "type", "param": null, "code"}}`, where `type` is
    "rate_limit_exceeded" for 429, "server_error" for 5xx and
    "invalid_request_error" for any other status; `code` is OpenAI's string
    for the status (null when OpenAI has none), or with `int_code` the status
    itself, as vLLM sends it; `echo`: a key the message carelessly repeats
    (`echoed`).
    """
    if status == 429:
        type_ = "rate_limit_exceeded"
    else:
        type_ = "server_error" if status >= 500 else "invalid_request_error"
    code: int | str | None = status if int_code else _KNOWN.get(status, (None, None))[1]
    message = echoed(f"Simulated stream fault: {status} {_reason(status)}.", echo)
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def echoed(message: str, key: str | None) -> str:
    """`message`, then, if `key` is given, "The request's key was <key>."."""
    return message if key is None else f"{message} The request's key was {key}."


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
