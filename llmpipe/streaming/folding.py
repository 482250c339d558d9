"""Folding streamed chunks back into the reply a non-streamed call returns.

Text and refusals concatenate per choice; tool calls are assembled by their
``index`` (arguments arrive in fragments, several calls interleaved); the
last ``usage`` seen wins. Used as a stream goes, so a truncated stream can
still hand over everything received.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmpipe.wire.models import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    Delta,
    FunctionCall,
    FunctionCallDelta,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["ChatFold", "CompletionFold", "chunk_from_response", "fold_chunks"]


class _Call:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []

    def add(self, delta: ToolCallDelta) -> None:
        if delta.id:
            self.id = delta.id
        if delta.type:
            self.type = delta.type
        function = delta.function
        if function is not None:
            if function.name and function.name != self.name:
                self.name += function.name
            if function.arguments:
                self.arguments.append(function.arguments)

    def build(self) -> ToolCall:
        function = FunctionCall(name=self.name, arguments="".join(self.arguments))
        return ToolCall(id=self.id, type=self.type, function=function)


class _Choice:
    __slots__ = ("calls", "content", "finish_reason", "logprobs", "refusal", "role")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.logprobs: object = None

    def build(self, index: int) -> ChatChoice:
        calls = [self.calls[i].build() for i in sorted(self.calls)] or None
        message = Message(
            self.role,
            "".join(self.content) if self.content or not calls else None,
            tool_calls=calls,
            refusal="".join(self.refusal) if self.refusal else None,
        )
        return ChatChoice(
            index=index, message=message, finish_reason=self.finish_reason, logprobs=self.logprobs
        )


class ChatFold:
    """Accumulates chat chunks; ``result()`` is the reply so far."""

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self._id = ""
        self._model = ""
        self._created = 0
        self._fingerprint: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.id:
            self._id, self._model, self._created = chunk.id, chunk.model, chunk.created
            self._fingerprint = chunk.system_fingerprint or self._fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        for part in chunk.choices:
            state = self._choices.get(part.index)
            if state is None:
                state = self._choices[part.index] = _Choice()
            delta = part.delta
            if delta.role:
                state.role = delta.role
            if delta.content:
                state.content.append(delta.content)
            if delta.refusal:
                state.refusal.append(delta.refusal)
            for call in delta.tool_calls or ():
                target = state.calls.get(call.index)
                if target is None:
                    target = state.calls[call.index] = _Call()
                target.add(call)
            if part.finish_reason:
                state.finish_reason = part.finish_reason
            if part.logprobs is not None:
                state.logprobs = part.logprobs

    def result(self) -> ChatCompletionResponse:
        return ChatCompletionResponse(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[self._choices[i].build(i) for i in sorted(self._choices)],
            usage=self.usage,
            system_fingerprint=self._fingerprint,
        )


class CompletionFold:
    """Accumulates streamed text completions."""

    def __init__(self) -> None:
        self._text: dict[int, list[str]] = {}
        self._finish: dict[int, str | None] = {}
        self._head: CompletionResponse | None = None
        self.usage: Usage | None = None

    def add(self, chunk: CompletionResponse) -> None:
        if self._head is None and chunk.id:
            self._head = chunk
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            self._text.setdefault(choice.index, []).append(choice.text)
            if choice.finish_reason:
                self._finish[choice.index] = choice.finish_reason

    def result(self) -> CompletionResponse:
        head = self._head
        return CompletionResponse(
            id=head.id if head else "",
            created=head.created if head else 0,
            model=head.model if head else "",
            choices=[
                CompletionChoice(index=i, text="".join(t), finish_reason=self._finish.get(i))
                for i, t in sorted(self._text.items())
            ],
            usage=self.usage,
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
                    name=call.function.name, arguments=call.function.arguments
                ),
            )
            for i, call in enumerate(message.tool_calls or ())
        ]
        delta = Delta(
            role=message.role,
            content=message.text or None,
            tool_calls=calls or None,
            refusal=message.refusal,
        )
        choices.append(
            ChunkChoice(index=choice.index, delta=delta, finish_reason=choice.finish_reason)
        )
    return ChatCompletionChunk(
        id=response.id,
        created=response.created,
        model=response.model,
        choices=choices,
        usage=response.usage,
        system_fingerprint=response.system_fingerprint,
    )
