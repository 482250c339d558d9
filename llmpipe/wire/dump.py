"""Messages as the JSON a request sends.

A ``Message`` becomes the spec's object: its modelled fields that are set,
then its ``extra`` fields (a reply's ``reasoning_content`` goes back with
it). Extra fields whose value is null or empty are left out: a server that
sent ``"annotations": []`` or ``"audio": null`` gains nothing from getting
them back, and a strict one may reject them. A legacy ``function_call``
beside ``tool_calls`` (llama.cpp and LiteLLM add one, its name ending in a
colon) is the same call twice and is left out too. Plain dicts pass untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmpipe.errors import snippet
from llmpipe.wire.convert import converter
from llmpipe.wire.models import Message

__all__ = ["dump_messages"]

_MODELLED = ("name", "tool_call_id", "refusal")


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _dump_message(message: Message | Mapping[str, Any]) -> dict[str, Any] | Mapping[str, Any]:
    if isinstance(message, Message):
        content = message.content
        if content is not None and not isinstance(content, str):
            content = _without_none(converter.unstructure(content))
        out: dict[str, Any] = {"role": message.role, "content": content}
        for name in _MODELLED:
            value = getattr(message, name)
            if value is not None:
                out[name] = value
        if message.tool_calls is not None:
            out["tool_calls"] = converter.unstructure(message.tool_calls)
        for key, value in message.extra.items():
            if key not in out and not _empty(value):
                out[key] = value
        if "tool_calls" in out:
            out.pop("function_call", None)
        return out
    if isinstance(message, Mapping) and isinstance(message.get("role"), str):
        return message
    raise TypeError(
        f"each message must be a Message or a dict with a 'role' key, got {snippet(repr(message))}"
    )


def dump_messages(messages: Iterable[Message | Mapping[str, Any]]) -> list[Any]:
    """Messages as JSON-ready dicts; plain dicts pass through untouched."""
    if type(messages) is list and messages:  # the usual call: a list of plain dicts
        for message in messages:
            if type(message) is not dict or type(message.get("role")) is not str:
                break
        else:
            return messages.copy()
    if isinstance(messages, (str, bytes, Mapping)):
        raise TypeError("messages must be a list of Message objects or dicts, not a single one")
    dumped = [_dump_message(m) for m in messages]
    if not dumped:
        raise ValueError("messages must contain at least one message")
    return dumped
