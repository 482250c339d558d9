"""Hand-written structuring for the replies on the hot path.

cattrs handles every shape and explains every misfit, at a few microseconds
a reply. Most replies have one plain shape, so these builders take that
shape directly and bail out (``NotPlain``) on anything else: tool calls,
content parts, an unexpected type, a value the model would reject (an empty
role). The caller then uses cattrs, which gives the same result or the
detailed error. "The same result" is a contract, not a hope:
``tests/test_fastpath.py`` compares the two paths on generated replies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmpipe.wire.models import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    Delta,
    Message,
    Usage,
)

__all__ = ["FAST_BUILDERS", "NotPlain"]


class NotPlain(Exception):
    """The payload is not the plain shape: let cattrs structure it."""


def _text(value: Any) -> str:
    if type(value) is not str:
        raise NotPlain
    return value


def _optional_text(value: Any) -> str | None:
    if value is not None and type(value) is not str:
        raise NotPlain
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise NotPlain
    return value


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise NotPlain
    return Usage(
        prompt_tokens=_int(value.get("prompt_tokens", 0)),
        completion_tokens=_int(value.get("completion_tokens", 0)),
        total_tokens=_int(value.get("total_tokens", 0)),
    )


def _header(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "id": _text(payload.get("id", "")),
        "object": _text(payload.get("object", kind)),
        "created": _int(payload.get("created", 0)),
        "model": _text(payload.get("model", "")),
        "usage": _usage(payload.get("usage")),
        "system_fingerprint": _optional_text(payload.get("system_fingerprint")),
    }


def _choices(payload: dict[str, Any]) -> list[Any]:
    choices = payload.get("choices")
    if type(choices) is not list:
        raise NotPlain
    for choice in choices:
        if type(choice) is not dict:
            raise NotPlain
    return choices


def _message(value: Any) -> Message:
    if type(value) is not dict or value.get("tool_calls") is not None:
        raise NotPlain  # tool calls (even an empty list): cattrs
    role = value.get("role")
    if type(role) is not str or not role:
        raise NotPlain  # cattrs explains what is wrong with it
    get = value.get
    return Message(
        role,
        _optional_text(get("content")),
        name=_optional_text(get("name")),
        tool_call_id=_optional_text(get("tool_call_id")),
        refusal=_optional_text(get("refusal")),
    )


def chat(payload: dict[str, Any]) -> ChatCompletionResponse:
    choices = [
        ChatChoice(
            message=_message(c.get("message")),
            index=_int(c.get("index", 0)),
            finish_reason=_optional_text(c.get("finish_reason")),
            logprobs=c.get("logprobs"),
        )
        for c in _choices(payload)
    ]
    return ChatCompletionResponse(choices=choices, **_header(payload, "chat.completion"))


def _delta(value: Any) -> Delta:
    if type(value) is not dict or value.get("tool_calls") is not None:
        raise NotPlain
    return Delta(
        role=_optional_text(value.get("role")),
        content=_optional_text(value.get("content")),
        refusal=_optional_text(value.get("refusal")),
    )


def chunk(payload: dict[str, Any]) -> ChatCompletionChunk:
    choices = [
        ChunkChoice(
            delta=_delta(c.get("delta", {})),
            index=_int(c.get("index", 0)),
            finish_reason=_optional_text(c.get("finish_reason")),
            logprobs=c.get("logprobs"),
        )
        for c in _choices(payload)
    ]
    return ChatCompletionChunk(choices=choices, **_header(payload, "chat.completion.chunk"))


def completion(payload: dict[str, Any]) -> CompletionResponse:
    choices = [
        CompletionChoice(
            text=_text(c.get("text")),
            index=_int(c.get("index", 0)),
            finish_reason=_optional_text(c.get("finish_reason")),
            logprobs=c.get("logprobs"),
        )
        for c in _choices(payload)
    ]
    return CompletionResponse(choices=choices, **_header(payload, "text_completion"))


FAST_BUILDERS: dict[type, Callable[[dict[str, Any]], Any]] = {
    ChatCompletionResponse: chat,
    ChatCompletionChunk: chunk,
    CompletionResponse: completion,
}
