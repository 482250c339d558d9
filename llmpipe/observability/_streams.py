"""Watching a streamed reply until it ends, however it ends.

A span over a stream must end once, when the stream does: at ``[DONE]``, at
an error, when the caller closes it early, or, for a stream the caller
dropped unfinished, when it is collected (a finalizer, as the concurrency
limit uses; it may run on any thread, and ending a span or recording a
measurement is safe there). ``ReplyFold`` folds the chunks' JSON into the
shape of a whole reply, so a stream's attributes come from the same
functions as a plain reply's.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from llmpipe.streaming.events import EventStream, StreamSummary
from llmpipe.streaming.sse import ServerSentEvent

__all__ = ["ReplyFold", "StreamWatch", "end_of"]


def end_of(summary: StreamSummary | None) -> str:
    """The ``llmpipe.stream.end`` value for how a stream ended (None: abandoned)."""
    if summary is None:
        return "abandoned"
    if summary.error is not None:
        return "failed"
    return "complete" if summary.completed else "closed"


class StreamWatch:
    """A stream observer that calls ``finish`` exactly once, at the stream's end."""

    __slots__ = ("_finalizer",)

    def __init__(self) -> None:
        self._finalizer: weakref.finalize[..., object] | None = None

    def watch(self, stream: EventStream) -> None:
        stream.observe(self)
        self._finalizer = weakref.finalize(stream, self._abandoned)
        self._finalizer.atexit = False  # at exit, exporters may be gone: end nothing then

    def on_event(self, event: ServerSentEvent) -> None:
        pass

    def on_end(self, summary: StreamSummary) -> None:
        if self._finalizer is not None and self._finalizer.detach() is None:
            return  # the collector got here first
        self.finish(summary)

    def _abandoned(self) -> None:
        self.finish(None)

    def finish(self, summary: StreamSummary | None) -> None:
        """The stream ended (``summary``), or was dropped unfinished (None)."""
        raise NotImplementedError


class _Choice:
    __slots__ = ("calls", "content", "finish_reason", "role")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self.finish_reason: str | None = None

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": "".join(self.content)}
        if self.calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": "".join(a)}}
                for i, n, a in (self.calls[k] for k in sorted(self.calls))
            ]
        return message


class ReplyFold:
    """Chunks' JSON folded into a whole reply's shape: ids, usage, finish
    reasons, and the text only when ``keep_text`` (content capture is on)."""

    __slots__ = ("_chat", "_choices", "_keep_text", "_reply")

    def __init__(self, chat: bool, keep_text: bool) -> None:
        self._chat = chat
        self._keep_text = keep_text
        self._reply: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}

    def add(self, chunk: Any) -> None:
        if not isinstance(chunk, Mapping):
            return
        reply = self._reply
        for field in ("id", "model", "system_fingerprint", "service_tier"):
            if field not in reply and isinstance(chunk.get(field), str):
                reply[field] = chunk[field]
        if isinstance(chunk.get("usage"), Mapping):
            reply["usage"] = chunk["usage"]
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, Mapping):
                    self._add_choice(choice)

    def _add_choice(self, choice: Mapping[str, Any]) -> None:
        index = choice.get("index", 0)
        state = self._choices.get(index if isinstance(index, int) else 0)
        if state is None:
            state = self._choices[index if isinstance(index, int) else 0] = _Choice()
        if isinstance(choice.get("finish_reason"), str):
            state.finish_reason = choice["finish_reason"]
        if not self._keep_text:
            return
        if not self._chat:
            if isinstance(choice.get("text"), str):
                state.content.append(choice["text"])
            return
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            return
        if isinstance(delta.get("role"), str):
            state.role = delta["role"]
        if isinstance(delta.get("content"), str):
            state.content.append(delta["content"])
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, Mapping):
                _add_call(state, call)

    def result(self) -> dict[str, Any]:
        """The folded reply, as a non-streamed call's JSON would have it."""
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            choice: dict[str, Any] = {"index": index, "finish_reason": state.finish_reason}
            if self._chat:
                choice["message"] = state.message()
            else:
                choice["text"] = "".join(state.content)
            choices.append(choice)
        return {**self._reply, "choices": choices}


def _add_call(state: _Choice, call: Mapping[str, Any]) -> None:
    index = call.get("index", 0)
    entry = state.calls.setdefault(index if isinstance(index, int) else 0, [None, None, []])
    if isinstance(call.get("id"), str):
        entry[0] = call["id"]
    function = call.get("function")
    if isinstance(function, Mapping):
        if isinstance(function.get("name"), str):
            entry[1] = function["name"]
        if isinstance(function.get("arguments"), str):
            entry[2].append(function["arguments"])
