"""Turning payloads, errors and faults into aiohttp responses (event streams: `_events`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._api_error import ApiError
from .faults import Fault

__all__ = ["close_connection", "drop", "error_reply", "fault_reply", "json_reply"]

JSON = "application/json"
# A chat completion cut off mid-string, as a proxy that lost the upstream might send it.
TRUNCATED_JSON = (
    b'{"id": "chatcmpl-0", "object": "chat.completion", "choices": '
    b'[{"index": 0, "message": {"role": "assistant", "content": "Ech'
)


def json_reply(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return _reply(status, json.dumps(payload).encode(), JSON)


def error_reply(error: ApiError) -> web.Response:
    return json_reply(error.payload(), error.status)


def fault_reply(fault: Fault, echo: str | None = None) -> web.Response:
    """The reply a fault scripts in place of the endpoint's (see `Fault`); `echo`:
    the key its error repeats."""
    status = fault.status if fault.status is not None else 200
    body = fault.body
    if fault.malformed:
        return _reply(status, TRUNCATED_JSON, fault.content_type or JSON)
    if body is None:
        if status >= 400:
            return error_reply(ApiError.for_status(status, echo))
        return _reply(status, b"", fault.content_type)
    if isinstance(body, str):
        return _reply(status, body.encode(), fault.content_type or "text/html; charset=utf-8")
    if isinstance(body, bytes):
        return _reply(status, body, fault.content_type or "application/octet-stream")
    return _reply(status, json.dumps(body).encode(), fault.content_type or JSON)


def drop(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without answering.

    aiohttp has no call for this, so: close the transport, then hand aiohttp a
    placeholder response. Writing it fails, and aiohttp treats that as a
    client that went away (no 500, no error log); the client sees the
    connection closed with no response.
    """
    close_connection(request)
    return web.Response()


def close_connection(request: web.BaseRequest) -> None:
    """Close the client's connection; what was already written is still sent."""
    transport = request.transport
    if transport is not None:
        transport.close()


def _reply(status: int, body: bytes, content_type: str | None) -> web.Response:
    # Set the header directly: aiohttp's content_type argument rejects a charset.
    headers = {"Content-Type": content_type} if content_type else None
    return web.Response(status=status, body=body, headers=headers)
