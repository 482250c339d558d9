"""The fixed request and replies every client sends and receives.

One module owns them so that nginx's files, the hold server's reply, and the
clients' sanity checks can never drift apart. Stdlib only: client processes
import it, and it must not add to their memory or import time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "API_KEY",
    "CHAT_PATH",
    "EXPECTED_CONTENT",
    "MAX_TOKENS",
    "MESSAGES",
    "MODEL",
    "SHORT_STREAM_PREFIX",
    "STREAM_EVENTS",
    "STREAM_PREFIX",
    "TEMPERATURE",
    "WARM_UP_MODEL",
    "chat_reply",
    "request_body",
    "stream_body",
    "write_site",
]

MODEL = "gpt-4o-mini"
# Every client sends this key. A real key is long and random, so it never appears in a
# reply; a one-letter key would (llmpipe masks an echoed key: it then rewrote every "x").
API_KEY = "sk-bench-7Kq2Vn9Lw4Rt8Yp3Zc6Hd1Jf5Mg0Bs"
# The hold server answers requests for this model at once, and holds all others.
WARM_UP_MODEL = "warm-up"
# Every client passes these on each call, as most users do (issue 13).
TEMPERATURE = 0.7
MAX_TOKENS = 256
MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "In one sentence: why do connection pools matter?"},
]
CHAT_PATH = "/v1/chat/completions"
# Streams live under their own prefix, so SDKs that only take a base URL reach them.
STREAM_PREFIX = "/stream"
STREAM_EVENTS = 20  # chunk events per stream, not counting `data: [DONE]` (~6 KB)
# The shortest stream: one chunk, then `data: [DONE]`: the fixed cost of a streamed call.
SHORT_STREAM_PREFIX = "/stream-1"

EXPECTED_CONTENT = (
    "Pools reuse open connections, so requests skip the TCP handshake and slow start."
)
_ID = "chatcmpl-Bx9fQ2c7LmTzV4rYpN8eKs1dHw3Ua"
_CREATED = 1754471210
_SERVED_MODEL = "gpt-4o-mini-2024-07-18"
_FINGERPRINT = "fp_34a54ae93c"

_PAD = "Qx7bLm2Tz9VfRk4HwYp8NcJd"
_DONE_EVENT = b"data: [DONE]\n\n"
_STREAMED_TEXT = (
    "A connection pool keeps sockets open between requests so that the client "
    "does not pay for a new TCP handshake every time it talks to the server"
)


def request_body(model: str = MODEL) -> dict[str, Any]:
    """The chat request every client sends (clients encode it on every call)."""
    return {
        "model": model,
        "messages": MESSAGES,
        "temperature": TEMPERATURE,
        "max_tokens": MAX_TOKENS,
    }


def chat_reply() -> bytes:
    """A realistic non-streamed chat completion, about 600 bytes of JSON."""
    reply = {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": _SERVED_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": EXPECTED_CONTENT,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 27,
            "completion_tokens": 29,
            "total_tokens": 56,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "system_fingerprint": _FINGERPRINT,
    }
    return json.dumps(reply, separators=(",", ":")).encode()


def _chunk(delta: dict[str, Any], finish_reason: str | None, pad: str = "") -> bytes:
    chunk: dict[str, Any] = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": _SERVED_MODEL,
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }
    if pad:  # OpenAI pads chunks against length side channels ("obfuscation")
        chunk["obfuscation"] = pad
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_events(count: int = STREAM_EVENTS) -> list[bytes]:
    """An OpenAI-style SSE stream as its events: a role chunk, one chunk per token,
    a finish chunk (``count`` in all, at least 2), then ``data: [DONE]``."""
    words = _STREAMED_TEXT.split()
    events = [_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    for i in range(count - 2):
        word = words[i % len(words)]
        text = word if i == 0 else " " + word
        events.append(_chunk({"content": text}, None, pad=_PAD[: max(12 - len(text), 2)]))
    events.append(_chunk({}, "stop"))
    events.append(_DONE_EVENT)
    return events


def stream_body(count: int = STREAM_EVENTS) -> bytes:
    return b"".join(stream_events(count))


def short_stream_body() -> bytes:
    """One chunk carrying the whole (short) answer, then ``data: [DONE]``."""
    delta = {"role": "assistant", "content": "Pools reuse connections."}
    return _chunk(delta, "stop") + _DONE_EVENT


def write_site(root: Path) -> None:
    """Lay out nginx's document root: each reply at the path it answers."""
    for path, body in (
        (CHAT_PATH, chat_reply()),
        (STREAM_PREFIX + CHAT_PATH, stream_body()),
        (SHORT_STREAM_PREFIX + CHAT_PATH, short_stream_body()),
    ):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
