"""Streaming replies: a finished reply cut into the chunks OpenAI streams.

Deriving the chunks from the complete reply keeps one source of truth: the
concatenated deltas of a stream equal the non-streamed content exactly. Each
choice streams a first chunk (chat: the role), one chunk per word (with the
whitespace before it; `words_per_event` words if the server says so), then a
chunk with its finish_reason; with `stream_options.include_usage` a last chunk
has no choices and the usage.

Tool calls stream as OpenAI streams them: after the role (content null), one
delta per call with its `index`, `id`, `type`, `function.name` and empty
`arguments`, then the arguments in fragments of a few characters, each delta
carrying only `index` and `function.arguments`; the fragments of several calls
are interleaved (call 0, call 1, ..., call 0, ...), so a client must assemble
them by index, not by order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["ARGUMENTS_FRAGMENT", "Chunker", "chat_chunks", "text_chunks"]

# (complete reply, include_usage, words_per_event) -> the chunks to send, in order
Chunker = Callable[[Mapping[str, Any], bool, int], list[dict[str, Any]]]

# Characters of tool-call arguments per streamed delta.
ARGUMENTS_FRAGMENT = 4

_PIECE = re.compile(r"\s*\S+|\s+$")


def chat_chunks(
    reply: Mapping[str, Any], include_usage: bool, words_per_event: int
) -> list[dict[str, Any]]:
    """`chat.completion.chunk` objects for a chat completion."""

    def deltas(choice: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
        message = choice["message"]
        if message.get("tool_calls"):
            yield {"role": "assistant", "content": None}, None
            for delta in _tool_call_deltas(message["tool_calls"]):
                yield {"tool_calls": [delta]}, None
        else:
            yield {"role": "assistant", "content": ""}, None
            for piece in _pieces(message["content"], words_per_event):
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


def text_chunks(
    reply: Mapping[str, Any], include_usage: bool, words_per_event: int
) -> list[dict[str, Any]]:
    """`text_completion` chunks for a text completion."""

    def texts(choice: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
        for piece in _pieces(choice["text"], words_per_event):
            yield piece, None
        yield "", choice["finish_reason"]

    chunks = [
        _chunk(reply, "text_completion", {"text": t, "index": c["index"], "finish_reason": f})
        for c in reply["choices"]
        for t, f in texts(c)
    ]
    return _with_usage(chunks, reply, "text_completion", include_usage)


def _pieces(text: str, words_per_event: int) -> list[str]:
    """Runs of `words_per_event` words with the whitespace before each; they join
    back to `text`."""
    pieces: list[str] = _PIECE.findall(text)
    return [
        "".join(pieces[i : i + words_per_event]) for i in range(0, len(pieces), words_per_event)
    ]


def _tool_call_deltas(calls: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """The `tool_calls` entries of the deltas that stream `calls`."""
    for index, call in enumerate(calls):
        name = call["function"]["name"]
        function = {"name": name, "arguments": ""}
        yield {"index": index, "id": call["id"], "type": call["type"], "function": function}
    fragments = [_fragments(call["function"]["arguments"]) for call in calls]
    for round_ in itertools.zip_longest(*fragments):
        for index, fragment in enumerate(round_):
            if fragment is not None:
                yield {"index": index, "function": {"arguments": fragment}}


def _fragments(arguments: str) -> list[str]:
    size = ARGUMENTS_FRAGMENT
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


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
