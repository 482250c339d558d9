"""ClassifyErrorsMiddleware: non-2xx replies become typed ``LLMAPIError``s.

Every layer outside this one (retry, logging, counting) reasons about the
exception tree, never about raw statuses.
"""

from __future__ import annotations

import re
from typing import Any

from llmpipe import _json
from llmpipe.errors import LLMAPIError, error_for_status, snippet
from llmpipe.pipeline import Handler
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["ClassifyErrorsMiddleware", "api_error_from"]

_TAG = re.compile(r"<[^>]*>")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")


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


class ClassifyErrorsMiddleware:
    """Raise the matching ``LLMAPIError`` for every non-2xx response."""

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        response = await call_next(request)
        if response.status >= 300:
            raise api_error_from(response)
        return response

    def __repr__(self) -> str:
        return "ClassifyErrorsMiddleware()"
