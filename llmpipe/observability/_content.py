"""Message content as the GenAI conventions shape it, for users who opt in.

``gen_ai.input.messages`` and ``gen_ai.output.messages`` are JSON: a list of
``{"role", "parts": [...]}`` (output messages add ``finish_reason``), each
part typed: ``text``, ``tool_call`` (``id``, ``name``, ``arguments``),
``tool_call_response`` (``id``, ``response``) or ``uri`` (an image by URL).
Built only when content capture is on; headers are never read here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmpipe.observability import semconv as sc

__all__ = ["input_messages", "output_messages"]

Part = dict[str, Any]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _arguments(text: Any) -> Any:
    """Tool-call arguments as an object when they are JSON (the wire sends a string)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _content_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[Part] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text":
                parts.append({"type": "text", "content": part.get("text", "")})
            elif part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                parts.append({"type": "uri", "modality": "image", "uri": url})
    return parts


def _tool_calls(calls: Any) -> list[Part]:
    parts: list[Part] = []
    if isinstance(calls, list):
        for call in calls:
            if not isinstance(call, Mapping):
                continue
            function = call.get("function")
            function = function if isinstance(function, Mapping) else {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": _arguments(function.get("arguments")),
                }
            )
    return parts


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "tool":
        parts: list[Part] = [
            {
                "type": "tool_call_response",
                "id": message.get("tool_call_id"),
                "response": message.get("content"),
            }
        ]
    else:
        parts = _content_parts(message.get("content")) + _tool_calls(message.get("tool_calls"))
    shaped: dict[str, Any] = {"role": role, "parts": parts}
    if isinstance(message.get("name"), str):
        shaped["name"] = message["name"]
    return shaped


def input_messages(operation: str, body: Mapping[str, Any]) -> str | None:
    """``gen_ai.input.messages`` for a chat or text completion request."""
    if operation == sc.CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list):
            return None
        return _dumps([_message(m) for m in messages if isinstance(m, Mapping)])
    if operation == sc.TEXT_COMPLETION:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list):
            return None
        return _dumps([{"role": "user", "parts": _content_parts(p)} for p in prompts])
    return None


def output_messages(operation: str, payload: Any) -> str | None:
    """``gen_ai.output.messages``: one per choice, in index order."""
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    if not isinstance(choices, list) or operation == sc.EMBEDDINGS:
        return None
    shaped = []
    for choice in sorted(
        (c for c in choices if isinstance(c, Mapping)), key=lambda c: _index(c.get("index"))
    ):
        if operation == sc.CHAT:
            message = choice.get("message")
            out = _message(message if isinstance(message, Mapping) else {"role": "assistant"})
        else:
            out = {"role": "assistant", "parts": _content_parts(choice.get("text"))}
        out["finish_reason"] = choice.get("finish_reason")
        shaped.append(out)
    return _dumps(shaped)


def _index(value: Any) -> int:
    return value if isinstance(value, int) else 0
