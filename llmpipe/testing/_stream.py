"""Streaming replies: a finished reply cut into the chunks OpenAI streams.

Deriving the chunks from the complete reply keeps one source of truth: the
concatenated deltas of a stream equal the non-streamed content exactly. Each
choice streams a first chunk (chat: the role), one chunk per word (with the
whitespace before it), then a chunk with its finish_reason; with
`stream_options.include_usage` a last chunk has no choices and the usage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["Chunker", "chat_chunks", "text_chunks"]

# (complete reply, include_usage) -> the chunks to send, in order
Chunker = Callable[[Mapping[str, Any], bool], list[dict[str, Any]]]

_PIECE = re.compile(r"\s*\S+|\s+$")


def chat_chunks(reply: Mapping[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """`chat.completion.chunk` objects for a chat completion."""

    def deltas(choice: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
        yield {"role": "assistant", "content": ""}, None
        for piece in _pieces(choice["message"]["content"]):
            yield {"content": piece}, None
        yield {}, choice["finish_reason"]

    chunks = [
        _chunk(
            reply, "chat.completion.chunk", {"index": c["index"], "delta": d, "finish_reason": f}
        )
        for c in reply["choices"]
        for d, f in deltas(c)
    ]
    return _with_usage(chunks, reply, "chat.completion.chunk", include_usage)


def text_chunks(reply: Mapping[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """`text_completion` chunks for a text completion."""

    def texts(choice: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
        for piece in _pieces(choice["text"]):
            yield piece, None
        yield "", choice["finish_reason"]

    chunks = [
        _chunk(reply, "text_completion", {"text": t, "index": c["index"], "finish_reason": f})
        for c in reply["choices"]
        for t, f in texts(c)
    ]
    return _with_usage(chunks, reply, "text_completion", include_usage)


def _pieces(text: str) -> list[str]:
    """Each word with the whitespace before it; they join back to `text`."""
    return _PIECE.findall(text)


def _chunk(reply: Mapping[str, Any], kind: str, choice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": reply["id"],
        "object": kind,
        "created": reply["created"],
        "model": reply["model"],
        "system_fingerprint": reply["system_fingerprint"],
        "choices": [{**choice, "logprobs": None}],
    }


def _with_usage(
    chunks: list[dict[str, Any]], reply: Mapping[str, Any], kind: str, include: bool
) -> list[dict[str, Any]]:
    """As OpenAI does: when usage is asked for, every chunk has it, null until the last."""
    if not include:
        return chunks
    last = {**_chunk(reply, kind, {}), "choices": [], "usage": reply["usage"]}
    return [{**chunk, "usage": None} for chunk in chunks] + [last]
