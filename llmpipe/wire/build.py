"""From a method call to an LLMRequest: config defaults, then the call's own.

Keyword arguments are JSON body fields, except ``CALL_KEYWORDS``: the
per-call options that layers read (``CallOptions``), the deadline, the
attempt timeout and extra headers. A field given as ``OMIT`` is not sent at
all, even if the config has a value for it (reasoning models reject any
``temperature`` but their own).

Arguments are checked here, before anything is sent (``wire/arguments.py``):
ranges as ``LLMConfig`` checks them, misspelt names, values JSON cannot
encode. ``extra_body`` is merged into the body last, unchecked.

Token limits: ``max_tokens`` (the argument, else the config's) goes out under
the name ``config.max_tokens_field`` selects; a call's own
``max_completion_tokens`` replaces it. The two names are never sent together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from llmpipe._idempotency import new_key
from llmpipe.config import LLMConfig
from llmpipe.request import CALL_KEYWORDS, NO_OPTIONS, CallOptions, LLMRequest, new_request
from llmpipe.wire.arguments import (
    check_body_field,
    check_extra_body,
    check_option,
    check_sampling,
)

__all__ = [
    "OMIT",
    "Omit",
    "Prompt",
    "add_body_fields",
    "call_settings",
    "generation_request",
    "prompt_value",
]

Prompt = str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]
"""What ``prompt`` and embeddings ``input`` take, as the spec allows: text, a
list of texts, a token array, or a list of token arrays."""


def _tokens(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        type(token) is int and token >= 0 for token in value
    )


def prompt_value(value: Any, name: str) -> Any:
    """``value`` as JSON (lists, not tuples), or ``TypeError`` saying what is allowed."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return items
        if _tokens(items):
            return items
        if items and all(_tokens(item) for item in items):
            return [list(item) for item in items]
    raise TypeError(
        f"{name} must be a str, a list of str, a list of token ids (int >= 0) or a list of "
        f"such lists, got {type(value).__name__}"
    )


class Omit:
    """The type of ``OMIT``: "do not send this field"."""

    _instance: Omit | None = None

    def __new__(cls) -> Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __bool__(self) -> bool:
        return False


OMIT = Omit()
"""Pass as a field's value to leave the field out of the request body."""

_OPTION_KEYWORDS = tuple(name for name in CALL_KEYWORDS if name in attrs.fields_dict(CallOptions))


_NO_HEADERS: Mapping[str, str] = {}
"""No extra headers given (never handed out: a request gets a dict of its own)."""


def call_settings(
    config: LLMConfig, kwargs: dict[str, Any], *, stream: bool = False
) -> dict[str, Any]:
    """Pop the settings that are not body fields, as LLMRequest keyword arguments.

    A stream's timeouts are resolved here, once: the call's own, else the
    call's ``timeout`` (first event only), else the config's. Every attempt
    of one call carries the same idempotency key, so servers that honour it
    can drop duplicates a retry may cause.
    """
    timeout, headers, options = _settings(config, kwargs, stream)
    return {"timeout": timeout, "headers": headers, "options": options}


def _settings(
    config: LLMConfig, kwargs: dict[str, Any], stream: bool
) -> tuple[float | None, Mapping[str, str], CallOptions]:
    """``call_settings``' three, as a tuple (the hot path makes no dict of them)."""
    if not kwargs and not stream and config.deadline is None:  # the usual call: no settings
        header = config.idempotency_header
        return None, {} if header is None else {header: new_key()}, NO_OPTIONS
    given = {}
    timeout = deadline = None
    headers: Mapping[str, str] = _NO_HEADERS
    if kwargs:
        for name in _OPTION_KEYWORDS:
            value = kwargs.pop(name, None)
            if value is not None:
                check_option(name, value)
                given[name] = value
        timeout = kwargs.pop("timeout", None)
        if timeout is not None:
            check_option("timeout", timeout)
        deadline = kwargs.pop("deadline", None)
        if deadline is not None:
            check_option("deadline", deadline)
        headers = kwargs.pop("extra_headers", None) or _NO_HEADERS
        if headers:
            check_option("extra_headers", headers)
    deadline = deadline or config.deadline
    if deadline is not None:
        given["deadline_at"] = asyncio.get_running_loop().time() + deadline
    if stream:
        given.setdefault("first_event_timeout", timeout or config.first_event_timeout)
        given.setdefault("idle_timeout", config.idle_timeout)
    header = config.idempotency_header
    if header is not None:
        key = new_key()
        headers = {header: key, **headers} if headers else {header: key}
    elif headers is _NO_HEADERS:
        headers = {}  # the request's own dict, as LLMRequest's default gives
    return timeout, headers, CallOptions(**given) if given else NO_OPTIONS


def generation_request(
    config: LLMConfig,
    endpoint: str,
    key: str,
    value: Any,
    temperature: float | Omit | None,
    max_tokens: int | Omit | None,
    stream: bool,
    kwargs: dict[str, Any],
) -> LLMRequest:
    """The request for a chat or text completion.

    The usual call (no keyword arguments but the two sampling ones, in range;
    not streamed; no deadline in the config) takes a branch of its own that
    writes out what ``check_sampling``, ``_settings`` and ``_token_limit`` do
    for it, a Python call fewer each (tests/test_request_body.py checks both
    branches build equal requests).
    """
    if kwargs or stream or config.deadline is not None:
        check_sampling(temperature, max_tokens, OMIT)
        timeout, headers, options = _settings(config, kwargs, stream)
        model = kwargs.pop("model", None) if kwargs else None
        if model is not None:
            check_body_field("model", model)
        body: dict[str, Any] = {"model": model or config.model, key: value}
    else:
        if (
            temperature is not None
            and not (type(temperature) is float and 0.0 <= temperature <= 2.0)
        ) or (max_tokens is not None and not (type(max_tokens) is int and max_tokens >= 1)):
            check_sampling(temperature, max_tokens, OMIT)  # raises, or lets OMIT pass
        timeout, options = None, NO_OPTIONS
        header = config.idempotency_header
        headers = {} if header is None else {header: new_key()}
        body = {"model": config.model, key: value}
    chosen = config.temperature if temperature is None else temperature
    if chosen is not None and chosen is not OMIT:
        body["temperature"] = chosen
    if kwargs:
        _token_limit(body, config, max_tokens, kwargs)
    else:  # no max_completion_tokens of the call's own to replace the limit
        limit = config.max_tokens if max_tokens is None else max_tokens
        if limit is not None and limit is not OMIT:
            body[config.max_tokens_field] = limit
    if stream:
        body["stream"] = True
        if config.stream_usage:
            body["stream_options"] = {"include_usage": True}
    if kwargs:
        add_body_fields(body, kwargs)
    return new_request(endpoint, body, headers, timeout, stream, options)


def add_body_fields(body: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """The call's keyword arguments into ``body``, checked; ``OMIT`` removes a
    field; ``extra_body`` goes in last, as given."""
    extra = kwargs.pop("extra_body", None)
    for field, given in kwargs.items():
        if given is OMIT:
            body.pop(field, None)
        else:
            check_body_field(field, given)
            body[field] = given
    if extra is not None:
        body.update(check_extra_body(extra))


def _token_limit(
    body: dict[str, Any], config: LLMConfig, max_tokens: int | Omit | None, kwargs: dict[str, Any]
) -> None:
    completion_limit = kwargs.get("max_completion_tokens") if kwargs else None
    if completion_limit is not None and completion_limit is not OMIT:
        if max_tokens is not None and max_tokens is not OMIT:
            raise ValueError(
                "give max_tokens or max_completion_tokens, not both: servers reject a request "
                "with the two"
            )
        return  # the call's own limit replaces the config's
    limit = config.max_tokens if max_tokens is None else max_tokens
    if limit is not None and limit is not OMIT:
        body[config.max_tokens_field] = limit
