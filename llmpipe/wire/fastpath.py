"""Hand-written structuring for the replies on the hot path.

cattrs handles every shape and explains every misfit, at a few microseconds
a reply. Most replies have one plain shape, so these builders take that
shape directly and bail out (``NotPlain``) on anything else: tool calls,
content parts, an unexpected type, a value the model would reject (an empty
role). The caller then uses cattrs, which gives the same result or the
detailed error. "The same result" is a contract, not a hope:
``tests/test_fastpath.py`` compares the two paths on generated replies,
unknown keys (kept in ``extra``) included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from llmpipe._fast_init import fast_init, unfrozen
from llmpipe.wire.models import (
    EMPTY,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    CompletionTokensDetails,
    Delta,
    Message,
    PromptTokensDetails,
    Usage,
)
from llmpipe.wire.vendor import usage_of

__all__ = ["FAST_BUILDERS", "NotPlain"]


class NotPlain(Exception):
    """The payload is not the plain shape: let cattrs structure it."""


def _names(cls: type) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls) if a.init and a.name != "extra")


_CHAT = _names(ChatCompletionResponse)
_CHUNK = _names(ChatCompletionChunk)
_COMPLETION = _names(CompletionResponse)
_CHAT_CHOICE = _names(ChatChoice)
_CHUNK_CHOICE = _names(ChunkChoice)
_COMPLETION_CHOICE = _names(CompletionChoice)
_MESSAGE = _names(Message)
_DELTA = _names(Delta)
_USAGE = _names(Usage)
_PROMPT_DETAILS = _names(PromptTokensDetails)
_COMPLETION_DETAILS = _names(CompletionTokensDetails)


def _extra(value: dict[str, Any], names: frozenset[str]) -> Mapping[str, Any]:
    """The keys the model does not know. Callers test ``value.keys() <= names``
    first, inline: the plain shape, with none, then costs no call. (A copy less
    the known keys keeps the order as sent, in less time than a comprehension.)"""
    extra = dict(value)
    for name in names:
        extra.pop(name, None)
    return extra


# Positional builders (see ``_fast_init``): every value below is checked before
# it is passed, and a field that is not passed keeps its default.
_new_usage = fast_init(
    Usage,
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "extra",
)
_new_message = fast_init(Message, "role", "content", "name", "tool_call_id", "refusal", "extra")
_HEADER = ("id", "object", "created", "model", "usage", "system_fingerprint", "extra")
_CHOICE = ("index", "finish_reason", "logprobs", "extra")
_new_chat = fast_init(ChatCompletionResponse, "choices", *_HEADER)
_new_completion = fast_init(CompletionResponse, "choices", *_HEADER)
_new_chat_choice = fast_init(ChatChoice, "message", *_CHOICE)
_new_completion_choice = fast_init(CompletionChoice, "text", *_CHOICE)


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise NotPlain
    get = value.get
    prompt = get("prompt_tokens", 0)
    completion = get("completion_tokens", 0)
    total = get("total_tokens", 0)
    if type(prompt) is not int or type(completion) is not int or type(total) is not int:
        raise NotPlain
    prompt_details = get("prompt_tokens_details")
    if prompt_details is not None:
        prompt_details = _details(prompt_details, PromptTokensDetails, _PROMPT_DETAILS)
    completion_details = get("completion_tokens_details")
    if completion_details is not None:
        completion_details = _details(
            completion_details, CompletionTokensDetails, _COMPLETION_DETAILS
        )
    return _new_usage(  # type: ignore[no-any-return]
        prompt,
        completion,
        total,
        prompt_details,
        completion_details,
        EMPTY if value.keys() <= _USAGE else _extra(value, _USAGE),
    )


_DETAILS: dict[tuple[Any, ...], Any] = {}
_DETAILS_KEPT = 256


def _details(value: Any, cls: type[Any], names: frozenset[str]) -> Any:
    """Token details: known keys with int counts; the rest (nulls, extras) is cattrs'.

    The same few details come back reply after reply (OpenAI's are mostly
    zeros), and the models are frozen: built ones are shared. The names are
    checked only for details not seen yet: a key found holds names already checked.
    """
    if type(value) is not dict:
        raise NotPlain
    for count in value.values():
        if type(count) is not int:
            raise NotPlain
    key = (cls, *value.items())
    details = _DETAILS.get(key)
    if details is None:
        if not value.keys() <= names:
            raise NotPlain
        details = cls(**value)
        if len(_DETAILS) < _DETAILS_KEPT:
            _DETAILS[key] = details
    return details


def _header(payload: dict[str, Any], kind: str, names: frozenset[str]) -> tuple[Any, ...]:
    """The top-level fields every reply shares, in ``_HEADER`` order."""
    get = payload.get
    id_ = get("id", "")
    object_ = get("object", kind)
    created = get("created", 0)
    model = get("model", "")
    fingerprint = get("system_fingerprint")
    if (
        type(id_) is not str
        or type(object_) is not str
        or type(created) is not int
        or type(model) is not str
        or (fingerprint is not None and type(fingerprint) is not str)
    ):
        raise NotPlain
    usage = get("usage")
    return (
        id_,
        object_,
        created,
        model,
        _usage(usage if usage is not None else usage_of(payload)),
        fingerprint,
        EMPTY if payload.keys() <= names else _extra(payload, names),
    )


def _choice(choice: Any, names: frozenset[str]) -> tuple[Any, ...]:
    """A choice's common fields, in ``_CHOICE`` order."""
    get = choice.get
    index = get("index", 0)
    finish_reason = get("finish_reason")
    if type(index) is not int or (finish_reason is not None and type(finish_reason) is not str):
        raise NotPlain
    return (
        index,
        finish_reason,
        get("logprobs"),
        EMPTY if choice.keys() <= names else _extra(choice, names),
    )


def _choices(payload: dict[str, Any]) -> list[Any]:
    choices = payload.get("choices")
    if type(choices) is not list:
        raise NotPlain
    for choice in choices:
        if type(choice) is not dict:
            raise NotPlain
    return choices


def _message(value: Any) -> Message:
    if type(value) is not dict:
        raise NotPlain
    get = value.get
    if get("tool_calls") is not None:
        raise NotPlain  # tool calls (even an empty list): cattrs
    role = get("role")
    if type(role) is not str or not role:
        raise NotPlain  # cattrs explains what is wrong with it
    content = get("content")
    name = get("name")
    tool_call_id = get("tool_call_id")
    refusal = get("refusal")
    if (
        (content is not None and type(content) is not str)
        or (name is not None and type(name) is not str)
        or (tool_call_id is not None and type(tool_call_id) is not str)
        or (refusal is not None and type(refusal) is not str)
    ):
        raise NotPlain
    return _new_message(  # type: ignore[no-any-return]
        role,
        content,
        name,
        tool_call_id,
        refusal,
        EMPTY if value.keys() <= _MESSAGE else _extra(value, _MESSAGE),
    )


def chat(payload: dict[str, Any]) -> ChatCompletionResponse:
    choices = [
        _new_chat_choice(_message(c.get("message")), *_choice(c, _CHAT_CHOICE))
        for c in _choices(payload)
    ]
    return _new_chat(choices, *_header(payload, "chat.completion", _CHAT))  # type: ignore[no-any-return]


def _checked(cls: type, names: str) -> type:
    """``unfrozen(cls)``, for a builder below that stores each of ``names`` by hand.

    A stream structures a chunk per event, three objects each, so those builders
    store the fields inline instead of calling a ``fast_init`` function. Only
    for a model whose ``__init__`` just stores its arguments: checked here, so a
    field added to the model, or a validator, fails at import instead of being
    skipped.
    """
    fields = attrs.fields(cls)
    if sorted(a.name for a in fields) != sorted(names.split()) or any(
        a.validator or a.converter or not a.init for a in fields
    ):
        raise TypeError(f"fastpath: {cls.__name__} changed; update its builder")
    return unfrozen(cls)


_new = object.__new__
_DeltaDraft = _checked(Delta, "role content tool_calls refusal extra")
_ChoiceDraft = _checked(ChunkChoice, "delta index finish_reason logprobs extra")
_ChunkDraft = _checked(
    ChatCompletionChunk, "choices id object created model usage system_fingerprint extra"
)


def _delta(value: Any) -> Delta:
    if type(value) is not dict or value.get("tool_calls") is not None:
        raise NotPlain
    get = value.get
    role, content, refusal = get("role"), get("content"), get("refusal")
    if (
        (role is not None and type(role) is not str)
        or (content is not None and type(content) is not str)
        or (refusal is not None and type(refusal) is not str)
    ):
        raise NotPlain
    delta: Any = _new(_DeltaDraft)
    delta.role = role
    delta.content = content
    delta.tool_calls = None
    delta.refusal = refusal
    delta.extra = EMPTY if value.keys() <= _DELTA else _extra(value, _DELTA)
    delta.__class__ = Delta
    return delta  # type: ignore[no-any-return]


_NO_DELTA = Delta()


def chunk(payload: dict[str, Any]) -> ChatCompletionChunk:
    """One chat chunk. Every streamed event comes through here, so the choices'
    checks are written out inline; the top-level fields are ``_header``'s."""
    choices = []
    parts = payload.get("choices")
    if type(parts) is not list:
        raise NotPlain
    for c in parts:
        if type(c) is not dict:
            raise NotPlain
        index, finish = c.get("index", 0), c.get("finish_reason")
        if type(index) is not int or (finish is not None and type(finish) is not str):
            raise NotPlain
        part: Any = _new(_ChoiceDraft)
        part.delta = _delta(c["delta"]) if "delta" in c else _NO_DELTA
        part.index = index
        part.finish_reason = finish
        part.logprobs = c.get("logprobs")
        part.extra = EMPTY if c.keys() <= _CHUNK_CHOICE else _extra(c, _CHUNK_CHOICE)
        part.__class__ = ChunkChoice
        choices.append(part)
    built: Any = _new(_ChunkDraft)
    (
        built.id,
        built.object,
        built.created,
        built.model,
        built.usage,
        built.system_fingerprint,
        built.extra,
    ) = _header(payload, "chat.completion.chunk", _CHUNK)
    built.choices = choices
    built.__class__ = ChatCompletionChunk
    return built  # type: ignore[no-any-return]


def completion(payload: dict[str, Any]) -> CompletionResponse:
    choices = []
    for c in _choices(payload):
        text = c.get("text", "")
        if type(text) is not str:
            raise NotPlain
        choices.append(_new_completion_choice(text, *_choice(c, _COMPLETION_CHOICE)))
    return _new_completion(choices, *_header(payload, "text_completion", _COMPLETION))  # type: ignore[no-any-return]


FAST_BUILDERS: dict[type, Callable[[dict[str, Any]], Any]] = {
    ChatCompletionResponse: chat,
    ChatCompletionChunk: chunk,
    CompletionResponse: completion,
}
