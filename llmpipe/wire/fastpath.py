"""Structuring for the replies on the hot path, without cattrs.

cattrs handles every shape and explains every misfit, at a few microseconds
a reply. Most replies have one plain shape, so these builders take that
shape directly and bail out (``NotPlain``) on anything else: tool calls,
content parts, an unexpected type, a value the model would reject (an empty
role). The caller then uses cattrs, which gives the same result or the
detailed error. "The same result" is a contract, not a hope:
``tests/test_fastpath.py`` compares the two paths on generated replies,
unknown keys (kept in ``extra``) included.

Complete replies are read by ``Level``s (``_shapes``): per-field rules,
compiled into a reader per key set a server sends. A streamed chunk, whose
keys vary as the stream goes, keeps its hand-written builder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from llmpipe._fast_init import unfrozen
from llmpipe.wire._shapes import Level, NotPlain, Rule
from llmpipe.wire._shapes import extra as _extra
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


def _names(cls: type) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls) if a.init and a.name != "extra")


_CHUNK = _names(ChatCompletionChunk)
_CHUNK_CHOICE = _names(ChunkChoice)
_DELTA = _names(Delta)


# What each field accepts, as conditions on the value sent (``{v}``) under which
# the reply is not plain; a ``Level`` compiles them into a reader per key set.
# A field whose key is absent holds the model's default.
_INT = Rule("type({v}) is not int")
_STR = Rule("type({v}) is not str")
_STR_OR_NONE = Rule("{v} is not None and type({v}) is not str")
_ANY = Rule()


def _details(cls: type) -> Level:
    """Token details: known keys with int counts; the rest (nulls, extras) is cattrs'."""
    rules = {a.name: _INT for a in attrs.fields(cls) if a.name != "extra"}
    return Level(cls, rules, {}, share=True)


_PROMPT_DETAILS = _details(PromptTokensDetails)
_COMPLETION_DETAILS = _details(CompletionTokensDetails)
_USAGE = Level(
    Usage,
    {
        "prompt_tokens": _INT,
        "completion_tokens": _INT,
        "total_tokens": _INT,
        "prompt_tokens_details": Rule(take="None if {v} is None else _prompt.entry({v})"),
        "completion_tokens_details": Rule(take="None if {v} is None else _completion.entry({v})"),
    },
    {"_prompt": _PROMPT_DETAILS, "_completion": _COMPLETION_DETAILS},
    nullable=True,
)
_usage = _USAGE.read
_MESSAGE = Level(
    Message,
    {
        "role": Rule("type({v}) is not str or not {v}", absent=None),  # cattrs explains
        "content": _STR_OR_NONE,
        "name": _STR_OR_NONE,
        # tool calls are cattrs'; an empty list (vLLM sends one on every message) is
        # taken here, as cattrs builds it: a new empty list
        "tool_calls": Rule(
            "{v} is not None and (type({v}) is not list or {v})",
            take="None if {v} is None else []",
        ),
        "tool_call_id": _STR_OR_NONE,
        "refusal": _STR_OR_NONE,
    },
    {},
)
_CHOICE = {"index": _INT, "finish_reason": _STR_OR_NONE, "logprobs": _ANY}
_MESSAGE_RULE = Rule(take="_message.entry({v})", absent=None)
_CHAT_CHOICE = Level(ChatChoice, {"message": _MESSAGE_RULE, **_CHOICE}, {"_message": _MESSAGE})
_COMPLETION_CHOICE = Level(CompletionChoice, {"text": _STR, **_CHOICE}, {})


def _each(read: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[read(item) for item in items]``, without 3.11's comprehension function.
    (The readers build the usual single choice inline, without this call.)"""
    built = []
    for item in items:
        built.append(read(item))
    return built


_CHOICES = "[_choice.entry({v}[0])] if len({v}) == 1 else _each(_choice.entry, {v})"


def _reply(cls: type, choice: Level) -> Level:
    """A top-level reply: its choices, then the header every reply shares."""
    rules = {
        "choices": Rule("type({v}) is not list", take=_CHOICES, absent=None),
        "id": _STR,
        "object": _STR,
        "created": _INT,
        "model": _STR,
        # a vendor's own usage (x_groq's) when the standard one is null or absent
        "usage": Rule(
            take="_usage.entry({v} if {v} is not None else _usage_of(d))",
            absent="_usage.entry(_usage_of(d))",
        ),
        "system_fingerprint": _STR_OR_NONE,
    }
    names = {"_each": _each, "_choice": choice, "_usage": _USAGE, "_usage_of": usage_of}
    return Level(cls, rules, names)


_CHAT = _reply(ChatCompletionResponse, _CHAT_CHOICE)
_COMPLETION = _reply(CompletionResponse, _COMPLETION_CHOICE)
LEVELS = (
    _PROMPT_DETAILS,
    _COMPLETION_DETAILS,
    _USAGE,
    _MESSAGE,
    _CHAT_CHOICE,
    _COMPLETION_CHOICE,
    _CHAT,
    _COMPLETION,
)
"""Every level with compiled readers (tests forget them between generated replies)."""
chat: Callable[..., ChatCompletionResponse] = _CHAT.read
"""``chat(payload)``, or ``chat(payload, http)`` to set the reply's ``http`` as well."""
completion: Callable[..., CompletionResponse] = _COMPLETION.read


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


FAST_BUILDERS: dict[type, Callable[..., Any]] = {
    ChatCompletionResponse: chat,
    ChatCompletionChunk: chunk,
    CompletionResponse: completion,
}
"""``build(payload)``; those of a model with an ``http`` field also take it:
``build(payload, http)``."""
