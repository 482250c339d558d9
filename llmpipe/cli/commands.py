"""The client commands: chat, complete and models, each printing through ``Output``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

from llmpipe.cli.output import Output
from llmpipe.cli.parser import UsageError
from llmpipe.errors import LLMResponseError
from llmpipe.streaming.typed import SyncStream
from llmpipe.sync import LLM
from llmpipe.wire.models import ChatCompletionChunk, CompletionResponse, Message

__all__ = ["COMMANDS", "read_prompt"]

T = TypeVar("T")
Command = Callable[[LLM, argparse.Namespace, str, Output], None]
_TextStream = SyncStream[ChatCompletionChunk, Any] | SyncStream[CompletionResponse, Any]


def read_prompt(given: str | None, stdin: TextIO | None, command: str, name: str) -> str:
    """``given``, or stdin's text when ``given`` is '-' or absent and stdin is a pipe."""
    if given is not None and given != "-":
        return given
    if stdin is None or (given is None and stdin.isatty()):
        raise UsageError(f"give a {name}, or pipe one in ('-' reads it from stdin)", command)
    text = stdin.read().rstrip("\r\n")
    if not text.strip():
        raise UsageError(f"the {name} read from stdin is empty", command)
    return text


def _chat(llm: LLM, args: argparse.Namespace, prompt: str, out: Output) -> None:
    messages = [] if args.system is None else [Message("system", args.system)]
    messages.append(Message("user", prompt))
    if not args.stream:
        reply = llm.chat_completion(messages)
        if args.json:
            out.document(reply)
        else:
            out.text(_first(reply.choices).message.text + "\n")
        return
    _print_stream(llm.chat_completion(messages, stream=True), args.json, out)


def _complete(llm: LLM, args: argparse.Namespace, prompt: str, out: Output) -> None:
    if not args.stream:
        reply = llm.completion(prompt)
        if args.json:
            out.document(reply)
        else:
            out.text(_first(reply.choices).text + "\n")
        return
    _print_stream(llm.completion(prompt, stream=True), args.json, out)


def _models(llm: LLM, args: argparse.Namespace, prompt: str, out: Output) -> None:
    reply = llm.list_models()
    if args.json:
        out.document(reply)
    else:
        out.text("".join(f"{model.id}\n" for model in reply.data))


COMMANDS: dict[str, Command] = {"chat": _chat, "complete": _complete, "models": _models}


def _print_stream(stream: _TextStream, as_json: bool, out: Output) -> None:
    """Each chunk as it arrives: one JSON line each, or the text it adds (``chunk.text``
    is '' for role-only, finish and usage-only chunks)."""
    try:
        for chunk in stream:
            if as_json:
                out.json_line(chunk)
            else:
                out.text(chunk.text)
    finally:
        stream.close()
    if not as_json:
        out.text("\n")


def _first(choices: Sequence[T]) -> T:
    if not choices:
        raise LLMResponseError("the server replied with no choices")
    return choices[0]
