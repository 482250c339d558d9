"""What the assistant answers in a chat completion: tool calls, JSON, or the echo.

In this order:

1. tool calls (`_tools`), with content null and finish_reason "tool_calls",
   when the request offers tools, unless `tool_choice` is "none" or the last
   message is a tool result: after the results the model answers in text, as
   a real one does, so a client's tool loop ends after one round;
2. with `response_format` `{"type": "json_schema", "json_schema": {"schema":
   {...}}}`: the compact JSON of the schema's example instance (`_schema`);
   with `{"type": "json_object"}`: `{"echo": <text of the last user message>}`;
3. otherwise `"Echo: " + <text of the last user message>`.

`max_tokens` cuts text replies, JSON ones too, as it cuts a real model's
(which then no longer parse); tool calls are never cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from ._api_error import ApiError
from ._schema import SchemaError, example
from ._tokens import truncate, words
from ._tools import tool_calls

__all__ = ["Answer", "answer"]


@attrs.frozen
class Answer:
    message: dict[str, Any]  # the assistant message of one choice
    finish_reason: str
    tokens: int  # completion tokens of one choice


def answer(
    request: Mapping[str, Any], last_user: str, last_role: str, max_tokens: int | None
) -> Answer:
    """The answer to a chat request whose messages are already checked."""
    calls = tool_calls(request)
    text = _content(request, last_user)
    if calls and last_role != "tool":
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": calls}
        tokens = sum(words(c["function"]["name"] + " " + c["function"]["arguments"]) for c in calls)
        return Answer(message, "tool_calls", tokens)
    reply, finish = truncate(text, max_tokens)
    return Answer({"role": "assistant", "content": reply, "refusal": None}, finish, words(reply))


def _content(request: Mapping[str, Any], last_user: str) -> str:
    """The text content the request's `response_format` asks for."""
    form = request.get("response_format")
    kind = form.get("type") if isinstance(form, Mapping) else None
    if form is None or kind == "text":
        return "Echo: " + last_user
    if kind == "json_object":
        return _compact({"echo": last_user})
    if kind == "json_schema":
        spec = form.get("json_schema")
        schema = spec.get("schema", {}) if isinstance(spec, Mapping) else None
        if schema is None:
            raise ApiError(
                400, "'json_schema' must be an object.", param="response_format.json_schema"
            )
        try:
            return _compact(example(schema))
        except SchemaError as exc:
            raise ApiError(
                400, f"Invalid schema: {exc}", param="response_format.json_schema.schema"
            ) from exc
    raise ApiError(
        400,
        "'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
        param="response_format",
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
