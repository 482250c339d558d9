"""What the text endpoints answer, as pure functions of the decoded request body.

Kept free of HTTP so the rules are easy to read and test. Replies are
deterministic, so tests can assert on exact text and token counts:

- chat: `"Echo: " + <text of the last user message>` (text parts of a list
  content are joined with spaces), or tool calls, or JSON for a
  `response_format` (`_answers`);
- completions: `" Echo: " + <prompt>`, one choice per prompt;
- `max_tokens` keeps only that many words and sets finish_reason "length";
- a token is a whitespace-separated word, for prompts and replies alike.

With `"stream": true` the server sends the same reply as events (`_stream`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _checks
from ._answers import answer
from ._api_error import ApiError
from ._tokens import truncate, words

__all__ = ["CREATED", "chat_completion", "model_list", "text_completion", "usage"]

CREATED = 1_700_000_000
FINGERPRINT = "llmpipe-testing"
MAX_CHOICES = 128


def chat_completion(body: Any, models: Sequence[str], number: int) -> dict[str, Any]:
    """POST /v1/chat/completions: `n` identical answers to the conversation."""
    request = _checks.json_object(body)
    texts, last_user, last_role = _messages(request)
    model = _checks.known_model(request, models)
    n = _checks.positive_int(request, "n", MAX_CHOICES) or 1
    max_tokens = _checks.positive_int(request, "max_tokens")
    _checks.streaming(request)
    reply = answer(request, last_user, last_role, max_tokens)
    choice = {"message": reply.message, "finish_reason": reply.finish_reason}
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": i, **choice, "logprobs": None} for i in range(n)],
        "usage": usage(sum(map(words, texts)), reply.tokens * n),
        "system_fingerprint": FINGERPRINT,
    }


def text_completion(body: Any, models: Sequence[str], number: int) -> dict[str, Any]:
    """POST /v1/completions: one `" Echo: " + prompt` choice per prompt."""
    request = _checks.json_object(body)
    prompts = _checks.texts(request, "prompt")
    model = _checks.known_model(request, models)
    max_tokens = _checks.positive_int(request, "max_tokens")
    _checks.streaming(request)
    replies = [truncate("Echo: " + prompt, max_tokens) for prompt in prompts]
    return {
        "id": f"cmpl-{number}",
        "object": "text_completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {"text": " " + text, "index": i, "finish_reason": finish, "logprobs": None}
            for i, (text, finish) in enumerate(replies)
        ],
        "usage": usage(sum(map(words, prompts)), sum(words(text) for text, _ in replies)),
        "system_fingerprint": FINGERPRINT,
    }


def model_list(_body: Any, models: Sequence[str], _number: int) -> dict[str, Any]:
    """GET /v1/models: the models this server accepts."""
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": CREATED, "owned_by": "llmpipe"}
            for model in models
        ],
    }


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _messages(request: Mapping[str, Any]) -> tuple[list[str], str, str]:
    """The text of every message, that of the last user message ("" if none), and
    the role of the last message."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array.", param="messages")
    texts: list[str] = []
    last_user = ""
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise ApiError(
                400, "Each message must be an object with a 'role'.", param=f"messages.{i}"
            )
        text = _content_text(message.get("content"), param=f"messages.{i}.content")
        texts.append(text)
        if message["role"] == "user":
            last_user = text
    return texts, last_user, messages[-1]["role"]


def _content_text(content: Any, *, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(part, Mapping) for part in content):
        return " ".join(
            part["text"]
            for part in content
            if part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    raise ApiError(400, "Message content must be a string or an array of parts.", param=param)
