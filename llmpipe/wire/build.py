"""From a method call to an LLMRequest: config defaults, then the call's own.

Keyword arguments are JSON body fields, except ``CALL_KEYWORDS``: the
per-call options that layers read (``CallOptions``), the deadline, the
attempt timeout and extra headers.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import attrs

from llmpipe.config import LLMConfig
from llmpipe.request import CALL_KEYWORDS, NO_OPTIONS, CallOptions, LLMRequest

__all__ = ["call_settings", "generation_request"]

_OPTION_KEYWORDS = tuple(name for name in CALL_KEYWORDS if name in attrs.fields_dict(CallOptions))


def call_settings(
    config: LLMConfig, kwargs: dict[str, Any], *, stream: bool = False
) -> dict[str, Any]:
    """Pop the settings that are not body fields, as LLMRequest keyword arguments.

    A stream's timeouts are resolved here, once: the call's own, else the
    call's ``timeout`` (first event only), else the config's. Every attempt
    of one call carries the same idempotency key, so servers that honour it
    can drop duplicates a retry may cause.
    """
    given = {}
    if kwargs:
        for name in _OPTION_KEYWORDS:
            value = kwargs.pop(name, None)
            if value is not None:
                given[name] = value
    timeout = kwargs.pop("timeout", None)
    deadline = kwargs.pop("deadline", None) or config.deadline
    if deadline is not None:
        given["deadline_at"] = asyncio.get_running_loop().time() + deadline
    if stream:
        given.setdefault("first_event_timeout", timeout or config.first_event_timeout)
        given.setdefault("idle_timeout", config.idle_timeout)
    headers = kwargs.pop("extra_headers", None) or {}
    if config.idempotency_header is not None:
        headers = {config.idempotency_header: os.urandom(16).hex(), **headers}
    options = CallOptions(**given) if given else NO_OPTIONS
    return {"timeout": timeout, "headers": headers, "options": options}


def generation_request(
    config: LLMConfig,
    endpoint: str,
    key: str,
    value: Any,
    temperature: float | None,
    max_tokens: int | None,
    stream: bool,
    kwargs: dict[str, Any],
) -> LLMRequest:
    """The request for a chat or text completion."""
    settings = call_settings(config, kwargs, stream=stream)
    body: dict[str, Any] = {
        "model": kwargs.pop("model", None) or config.model,
        key: value,
        "temperature": config.temperature if temperature is None else temperature,
    }
    limit = config.max_tokens if max_tokens is None else max_tokens
    if limit is not None:
        body["max_tokens"] = limit
    if stream:
        body["stream"] = True
        if config.stream_usage:
            body["stream_options"] = {"include_usage": True}
    body.update(kwargs)
    return LLMRequest(endpoint, body=body, stream=stream, **settings)
