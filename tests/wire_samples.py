"""Reply shapes real servers send, written down from their documented and observed
output, for the tests of what llmpipe keeps; and ``sse`` to serve them as a stream."""

from __future__ import annotations

import json
from typing import Any

from llmpipe.testing import Fault

USER = [{"role": "user", "content": "hi"}]

DEEPSEEK_REASONING = {
    "id": "d1",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-reasoner",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "42",
                "reasoning_content": "Six times seven.",
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 30,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 25},
        "prompt_cache_hit_tokens": 8,
        "prompt_cache_miss_tokens": 2,
    },
    "system_fingerprint": "fp_1",
}

OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 1,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_2",
}


def chunk(delta: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A chat chunk with one choice holding ``delta`` (``fields`` go on top)."""
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": None}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"} | {
        "choices": [choice],
        **fields,
    }


def sse(*payloads: Any, done: bool = True) -> bytes:
    """``data:`` events for each payload (a str is sent as is), then ``[DONE]``."""
    lines = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
    if done:
        lines.append("[DONE]")
    return "".join(f"data: {line}\n\n" for line in lines).encode()


def stream_fault(*payloads: Any, done: bool = True, content_type: str = "text/event-stream"):
    """A fault that answers with these events, as a server's stream would."""
    return Fault(body=sse(*payloads, done=done), content_type=content_type)
