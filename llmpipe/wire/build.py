"""From a method call to an LLMRequest: config defaults, then the call's own.

Keyword arguments are JSON body fields, except the per-call settings that
middlewares read (retries, stream timeouts, cache policy, usage tag), the
deadline, the attempt timeout and extra headers.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from llmpipe.config import LLMConfig
from llmpipe.request import LLMRequest

__all__ = ["OPTION_NAMES", "call_settings", "generation_request"]

# Per-call settings read by middlewares, never sent.
OPTION_NAMES = ("max_retries", "first_event_timeout", "idle_timeout", "cache", "tag")


def call_settings(config: LLMConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the settings that are not body fields, as LLMRequest keyword arguments.

    Every attempt of one call carries the same idempotency key, so servers
    that honour it can drop duplicates a retry may cause.
    """
    options = {}
    if kwargs:
        for name in OPTION_NAMES:
            value = kwargs.pop(name, None)
            if value is not None:
                options[name] = value
    deadline = kwargs.pop("deadline", None) or config.deadline
    if deadline is not None:
        options["deadline_at"] = asyncio.get_running_loop().time() + deadline
    headers = kwargs.pop("extra_headers", None) or {}
    if config.idempotency_header is not None:
        headers = {config.idempotency_header: os.urandom(16).hex(), **headers}
    return {"timeout": kwargs.pop("timeout", None), "headers": headers, "options": options}


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
    settings = call_settings(config, kwargs)
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
