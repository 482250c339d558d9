"""OpenAI-style error replies.

Clients classify failures by the `type` and `code` of the error object as
well as by the HTTP status, so every error the test server sends, real or
scripted, has the shape the OpenAI API uses.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["ApiError"]

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
    def for_status(cls, status: int) -> ApiError:
        """The error a provider would plausibly send with `status` (used by faults)."""
        fallback = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
        type_, code = _KNOWN.get(status, fallback)
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        return cls(status, f"Simulated fault: {status} {reason}.", type=type_, code=code)

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
