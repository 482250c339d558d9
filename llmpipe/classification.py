"""How replies become errors: the status table, error bodies, error events.

Servers word errors differently (OpenAI's ``{"error": {"message"}}``,
FastAPI's ``{"detail"}``, Ollama's ``{"error": "text"}``, a proxy's HTML
page); each yields a readable one-line message here.
"""

from __future__ import annotations

import re
from typing import Any

from llmpipe import _json
from llmpipe.errors import LLMAPIError, error_for_status, snippet
from llmpipe.request import LLMResponse

__all__ = ["api_error_from", "api_error_from_event"]

_TAG = re.compile(r"<[^>]*>")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")

# Error events inside a 200 stream carry no HTTP status: servers put an int
# ``code`` (vLLM, llama.cpp) or only an OpenAI-style ``type``.
_STATUS_BY_TYPE = {
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


def api_error_from(response: LLMResponse) -> LLMAPIError:
    """The ``LLMAPIError`` subclass that describes a non-2xx response."""
    headers = {key.lower(): value for key, value in response.headers.items()}
    body = _decode(response.content)
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    cls = error_for_status(response.status)
    message = f"{response.request.endpoint}: {_server_message(body)}"
    return cls(
        message, status_code=response.status, body=body, request_id=request_id, headers=headers
    )


def api_error_from_event(payload: dict[str, Any], endpoint: str) -> LLMAPIError:
    """The ``LLMAPIError`` for an ``{"error": ...}`` event inside a stream."""
    error = payload.get("error")
    status = 500
    if isinstance(error, dict):
        for key in ("code", "status"):
            code = error.get(key)
            if isinstance(code, int) and 400 <= code <= 599:
                status = code
                break
        else:
            status = _STATUS_BY_TYPE.get(str(error.get("type") or error.get("code")), 500)
    cls = error_for_status(status)
    message = f"{endpoint}: error event in stream: {_server_message(payload)}"
    return cls(message, status_code=status, body=payload)
