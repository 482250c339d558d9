"""Folding streamed chunks back into the reply a non-streamed call returns.

Per choice, text concatenates: ``content``, ``refusal`` and every text field
of a delta that llmpipe does not model (``reasoning_content``), which lands
in the message's ``extra``; ``logprobs`` lists (``content``, ``refusal``,
``tokens``...) concatenate too. Tool calls are assembled as ``_calls``
explains. Other unmodelled fields, and ``usage``, take the last value sent.
Used as a stream goes, so a truncated stream can still hand over everything
received.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmpipe._fast_init import fast_init
from llmpipe.streaming._calls import CallAssembler, fold_function_call
from llmpipe.wire.models import (
    EMPTY,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    Delta,
    FunctionCallDelta,
    HTTPInfo,
    Message,
    ToolCallDelta,
    Usage,
)

__all__ = ["ChatFold", "CompletionFold", "chunk_from_response", "fold_chunks"]

# The folded reply is built without the models' ``__init__`` (see ``_fast_init``):
# every stream ends in one, and each field stored through a frozen model's
# ``__init__`` costs a call. Every value is one the fold made itself.
_new_message = fast_init(Message, "role", "content", "tool_calls", "refusal", "extra")
_new_choice = fast_init(ChatChoice, "message", "index", "finish_reason", "logprobs", "extra")
_REPLY_FIELDS = (
    "choices",
    "id",
    "created",
    "model",
    "usage",
    "system_fingerprint",
    "extra",
    "http",
)
_new_reply = fast_init(ChatCompletionResponse, *_REPLY_FIELDS)
_new_piece = fast_init(CompletionChoice, "text", "index", "finish_reason", "logprobs", "extra")
_new_completion = fast_init(CompletionResponse, *_REPLY_FIELDS)


def fold_logprobs(old: Any, new: Any) -> Any:
    """Logprobs so far plus a chunk's: lists concatenate key by key (a copy is kept)."""
    if new is None:
        return old
    if not isinstance(new, dict):
        return new
    merged = dict(old) if isinstance(old, dict) else {}
    for key, value in new.items():
        before = merged.get(key)
        if isinstance(value, list) and isinstance(before, list):
            merged[key] = before + value
        elif value is not None or key not in merged:
            merged[key] = list(value) if isinstance(value, list) else value
    return merged


def _keep_latest(kept: dict[str, Any], new: Mapping[str, Any]) -> None:
    """``_latest`` in place, for a fold's own dict (a chunk may carry extras every time)."""
    for key, value in new.items():
        if value is not None or key not in kept:
            kept[key] = value


def _latest(old: Mapping[str, Any], new: Mapping[str, Any]) -> Mapping[str, Any]:
    """Unmodelled fields: the last value that was not null wins."""
    if not new:
        return old
    merged = dict(old)
    for key, value in new.items():
        if value is not None or key not in merged:
            merged[key] = value
    return merged


class _Choice:
    __slots__ = (
        "calls",
        "content",
        "extra",
        "finish_reason",
        "logprobs",
        "message_extra",
        "refusal",
        "role",
        "texts",
    )

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.texts: dict[str, list[str]] = {}  # text extras of the deltas
        self.message_extra: dict[str, Any] = {}  # the other extras of the deltas
        self.calls: CallAssembler | None = None  # made at the first tool call fragment
        self.finish_reason: str | None = None
        self.logprobs: Any = None
        self.extra: Mapping[str, Any] = EMPTY

    def add(self, part: ChunkChoice) -> None:
        delta = part.delta
        if delta.role:
            self.role = delta.role
        if delta.content:
            self.content.append(delta.content)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        extra = delta.extra
        if extra is not EMPTY and extra:  # EMPTY's len() is Python code: skip it per chunk
            self._add_extra(extra)
        if delta.tool_calls:
            calls = self.calls
            if calls is None:
                calls = self.calls = CallAssembler()
            for call in delta.tool_calls:
                calls.add(call)
        if part.finish_reason:
            self.finish_reason = part.finish_reason
        if part.logprobs is not None:
            self.logprobs = fold_logprobs(self.logprobs, part.logprobs)
        extra = part.extra
        if extra is not EMPTY and extra:
            self.extra = _latest(self.extra, extra)

    def _add_extra(self, extra: Mapping[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, str):
                self.texts.setdefault(key, []).append(value)
            elif key == "function_call":
                self.message_extra[key] = fold_function_call(self.message_extra.get(key), value)
            elif value is not None or key not in self.message_extra:
                self.message_extra[key] = value

    def build(self, index: int) -> ChatChoice:
        calls = None if self.calls is None else self.calls.build()
        extra: Mapping[str, Any] = EMPTY
        if self.texts or self.message_extra:
            extra = {**self.message_extra, **{k: "".join(v) for k, v in self.texts.items()}}
        content = "".join(self.content) if self.content or not calls else None
        refusal = "".join(self.refusal) if self.refusal else None
        if type(self.role) is str:  # the fold keeps only a non-empty role
            message = _new_message(self.role, content, calls, refusal, extra)
        else:  # a hand-made chunk's: Message says what is wrong with it
            message = Message(self.role, content, tool_calls=calls, refusal=refusal, extra=extra)
        return _new_choice(  # type: ignore[no-any-return]
            message, index, self.finish_reason, self.logprobs, self.extra
        )


class ChatFold:
    """Accumulates chat chunks; ``result()`` is the reply so far."""

    __slots__ = ("_choices", "_created", "_extra", "_fingerprint", "_id", "_model", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self._id = ""
        self._model = ""
        self._created = 0
        self._fingerprint: str | None = None
        self._extra: dict[str, Any] = {}
        self.usage: Usage | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.id:
            self._id, self._model, self._created = chunk.id, chunk.model, chunk.created
            self._fingerprint = chunk.system_fingerprint or self._fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        extra = chunk.extra
        if extra is not EMPTY and extra:
            _keep_latest(self._extra, extra)
        for part in chunk.choices:
            state = self._choices.get(part.index)
            if state is None:
                state = self._choices[part.index] = _Choice()
            state.add(part)

    def result(self, http: HTTPInfo | None = None) -> ChatCompletionResponse:
        """The reply so far; ``http``, the stream's HTTP facts, is its ``http``."""
        choices = self._choices
        return _new_reply(  # type: ignore[no-any-return]
            [choices[i].build(i) for i in (choices if len(choices) < 2 else sorted(choices))],
            self._id,
            self._created,
            self._model,
            self.usage,
            self._fingerprint,
            dict(self._extra) if self._extra else EMPTY,
            http,
        )


class _Text:
    __slots__ = ("extra", "finish_reason", "logprobs", "pieces")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.finish_reason: str | None = None
        self.logprobs: Any = None
        self.extra: Mapping[str, Any] = EMPTY


class CompletionFold:
    """Accumulates streamed text completions."""

    __slots__ = ("_extra", "_fingerprint", "_head", "_texts", "usage")

    def __init__(self) -> None:
        self._texts: dict[int, _Text] = {}
        self._head: CompletionResponse | None = None
        self._fingerprint: str | None = None
        self._extra: Mapping[str, Any] = EMPTY
        self.usage: Usage | None = None

    def add(self, chunk: CompletionResponse) -> None:
        if self._head is None and chunk.id:
            self._head = chunk
        self._fingerprint = chunk.system_fingerprint or self._fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.extra:
            self._extra = _latest(self._extra, chunk.extra)
        for choice in chunk.choices:
            state = self._texts.get(choice.index)
            if state is None:
                state = self._texts[choice.index] = _Text()
            if choice.text:
                state.pieces.append(choice.text)
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
            if choice.logprobs is not None:
                state.logprobs = fold_logprobs(state.logprobs, choice.logprobs)
            if choice.extra:
                state.extra = _latest(state.extra, choice.extra)

    def result(self, http: HTTPInfo | None = None) -> CompletionResponse:
        """The reply so far; ``http``, the stream's HTTP facts, is its ``http``."""
        head = self._head
        return _new_completion(  # type: ignore[no-any-return]
            [
                _new_piece("".join(t.pieces), i, t.finish_reason, t.logprobs, t.extra)
                for i, t in sorted(self._texts.items())
            ],
            head.id if head else "",
            head.created if head else 0,
            head.model if head else "",
            self.usage,
            self._fingerprint,
            self._extra,
            http,
        )


def fold_chunks(chunks: Iterable[ChatCompletionChunk]) -> ChatCompletionResponse:
    """The ``ChatCompletionResponse`` that a series of chunks adds up to."""
    fold = ChatFold()
    for chunk in chunks:
        fold.add(chunk)
    return fold.result()


def chunk_from_response(response: ChatCompletionResponse) -> ChatCompletionChunk:
    """One chunk carrying a whole reply: for servers that ignore ``stream=True``."""
    choices = []
    for choice in response.choices:
        message = choice.message
        calls = [
            ToolCallDelta(
                index=i,
                id=call.id,
                type=call.type,
                function=FunctionCallDelta(
                    name=call.function.name,
                    arguments=call.function.arguments,
                    extra=call.function.extra,
                ),
                extra=call.extra,
            )
            for i, call in enumerate(message.tool_calls or ())
        ]
        delta = Delta(
            role=message.role,
            content=message.text or None,
            tool_calls=calls or None,
            refusal=message.refusal,
            extra=message.extra,
        )
        choices.append(
            ChunkChoice(
                index=choice.index,
                delta=delta,
                finish_reason=choice.finish_reason,
                logprobs=choice.logprobs,
                extra=choice.extra,
            )
        )
    return ChatCompletionChunk(
        id=response.id,
        created=response.created,
        model=response.model,
        choices=choices,
        usage=response.usage,
        system_fingerprint=response.system_fingerprint,
        extra=response.extra,
    )
