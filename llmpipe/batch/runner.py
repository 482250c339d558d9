"""The batch runner behind ``llmpipe.batch``: items in, one result each, in order.

``run`` turns each item into the keyword arguments of one call, restores what
a checkpoint already holds, then lets ``concurrency`` workers share one
iterator over the rest, so at most that many calls are in flight and memory
stays flat however long the list. A worker appends each result to the
checkpoint (durably, in a thread) before it takes the next item.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import attrs

from llmpipe import logs
from llmpipe.batch.checkpoint import Checkpoint, fingerprint
from llmpipe.errors import LLMAPIError, LLMError, LLMResponseError
from llmpipe.wire.convert import converter, structure_payload
from llmpipe.wire.models import ChatCompletionResponse, CompletionResponse

if TYPE_CHECKING:
    from llmpipe.client import AsyncLLM

__all__ = ["CHAT", "TEXT", "BatchError", "BatchResult", "Kind", "run"]

R = TypeVar("R")

_CHANGED = "checkpoint {path}: {count} stored result(s) no longer match their request; redoing"


@attrs.frozen
class BatchError:
    """Why an item failed: the exception's class name, message and HTTP status."""

    type: str
    message: str
    status_code: int | None = None


@attrs.frozen
class BatchResult(Generic[R]):
    """One item's outcome. ``exception`` is the live error (None when restored
    from a checkpoint, where only ``error`` is kept)."""

    index: int
    response: R | None = None
    error: BatchError | None = None
    exception: Exception | None = attrs.field(default=None, eq=False, repr=False)
    from_checkpoint: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        """The response, or raise the item's error."""
        if self.error is None:
            return cast(R, self.response)
        if self.exception is not None:
            raise self.exception
        raise LLMError(f"batch item {self.index} failed: {self.error.type}: {self.error.message}")


@attrs.frozen
class Kind:
    """Chat or text completions: what a bare item is, and where replies come from."""

    name: str  # part of the fingerprint
    key: str  # what a bare item is: the messages or the prompt
    endpoint: str


CHAT = Kind("chat", "messages", "chat/completions")
TEXT = Kind("completion", "prompt", "completions")


@attrs.frozen
class _Item:
    index: int
    fingerprint: str
    kwargs: dict[str, Any] | None  # None: the item itself is unusable
    problem: Exception | None = None


async def run(
    client: AsyncLLM,
    kind: Kind,
    requests: Iterable[Any],
    concurrency: int,
    checkpoint: str | Path | None,
    progress: bool | None,
    retry_failed: bool,
    common: dict[str, Any],
) -> list[BatchResult[Any]]:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if common.get("stream"):
        raise ValueError("batch calls cannot stream: drop stream=True")
    items = [
        _prepare(kind, index, raw, common, client.config.model)
        for index, raw in enumerate(requests)
    ]
    results: list[BatchResult[Any] | None] = [None] * len(items)
    store = None if checkpoint is None else await asyncio.to_thread(Checkpoint.open, checkpoint)
    bar = None
    try:
        if store is not None:
            _restore(kind, items, store, retry_failed, results)
        todo = [item for item in items if results[item.index] is None]
        bar = _progress_bar(progress, len(items), len(items) - len(todo))
        await _work(client, kind, todo, concurrency, results, store, bar)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    return cast(list[BatchResult[Any]], results)


def _prepare(kind: Kind, index: int, raw: Any, common: Mapping[str, Any], model: str) -> _Item:
    try:
        kwargs = _kwargs(kind, raw, common)
    except (TypeError, ValueError) as problem:
        return _Item(index, fingerprint(kind.name, {"unusable": raw}, model), None, problem)
    return _Item(index, fingerprint(kind.name, kwargs, model), kwargs)


def _kwargs(kind: Kind, raw: Any, common: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of one item's call: its own over the common ones."""
    if isinstance(raw, Mapping):
        own = dict(raw)
    elif (kind is TEXT and isinstance(raw, str)) or (
        isinstance(raw, Sequence) and not isinstance(raw, (str, bytes))
    ):
        own = {kind.key: raw}
    else:
        what = "a list of messages" if kind is CHAT else "a prompt"
        raise TypeError(f"a batch item must be {what} or a dict of keyword arguments, got {raw!r}")
    if kind.key not in own:
        raise TypeError(f"a batch item given as a dict needs {kind.key!r}, got keys {sorted(own)}")
    merged = {**common, **own}
    if merged.get("stream"):
        raise ValueError("batch calls cannot stream: drop stream=True")
    return merged


def _restore(
    kind: Kind,
    items: Sequence[_Item],
    store: Checkpoint,
    retry_failed: bool,
    results: list[BatchResult[Any] | None],
) -> None:
    """Fill ``results`` with what the checkpoint holds for unchanged items."""
    changed = sum(1 for index in store.records if index >= len(items))
    for item in items:
        record = store.records.get(item.index)
        if record is None:
            continue
        if record.get("fingerprint") != item.fingerprint:
            changed += 1
        elif "response" in record or not retry_failed:
            result = _stored(kind, item, record)
            if result is None:
                changed += 1  # stored under another shape (a changed response_model)
            results[item.index] = result
    if changed:
        logs.warning(_CHANGED, path=str(store.path), count=changed)


def _stored(kind: Kind, item: _Item, record: Mapping[str, Any]) -> BatchResult[Any] | None:
    """The result a record holds, structured back; None if it no longer fits."""
    index = item.index
    try:
        if "response" in record:
            shape = _reply_type(kind, item)
            response = structure_payload(record["response"], shape, kind.endpoint, str)
            return BatchResult(index, response=response, from_checkpoint=True)
        error = structure_payload(record["error"], BatchError, "checkpoint", str)
    except LLMResponseError:
        return None
    return BatchResult(index, error=error, from_checkpoint=True)


def _reply_type(kind: Kind, item: _Item) -> type[Any]:
    if kind is TEXT:
        return CompletionResponse
    model = (item.kwargs or {}).get("response_model")
    return model if isinstance(model, type) else ChatCompletionResponse


async def _work(
    client: AsyncLLM,
    kind: Kind,
    todo: Sequence[_Item],
    concurrency: int,
    results: list[BatchResult[Any] | None],
    store: Checkpoint | None,
    bar: Any,
) -> None:
    """``concurrency`` workers share one iterator over ``todo``: a bounded pool."""
    pending = iter(todo)
    secret = client.config.api_key
    failed = 0

    async def worker() -> None:
        nonlocal failed
        for item in pending:
            result = await _one(client, kind, item, secret)
            results[item.index] = result
            if store is not None:
                await asyncio.to_thread(store.append, _record(item, result))
            if bar is not None:
                failed += not result.ok
                bar.set_postfix(failed=failed, refresh=False)
                bar.update(1)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(todo))):
            group.create_task(worker())


async def _one(client: AsyncLLM, kind: Kind, item: _Item, secret: str | None) -> BatchResult[Any]:
    try:
        if item.kwargs is None:
            assert item.problem is not None
            raise item.problem
        if kind is CHAT:
            response: Any = await client.chat_completion(**item.kwargs)
        else:
            response = await client.completion(**item.kwargs)
    except Exception as exc:  # one item's failure is its result, never the batch's
        return BatchResult(item.index, error=_error(exc, secret), exception=exc)
    return BatchResult(item.index, response=response)


def _error(exc: Exception, secret: str | None) -> BatchError:
    message = str(exc)
    if secret:
        message = message.replace(secret, "***")
    status = exc.status_code if isinstance(exc, LLMAPIError) else None
    return BatchError(type(exc).__name__, message, status)


def _record(item: _Item, result: BatchResult[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"index": item.index, "fingerprint": item.fingerprint}
    if result.error is None:
        record["response"] = converter.unstructure(result.response)
    else:
        record["error"] = converter.unstructure(result.error)
    return record


def _progress_bar(progress: bool | None, total: int, done: int) -> Any:
    """A tqdm bar on stderr, or None: quiet unless forced or on a terminal."""
    wanted = progress if progress is not None else _stderr_is_a_terminal()
    if not wanted:
        return None
    try:
        tqdm = importlib.import_module("tqdm")
    except ImportError:
        if progress:
            raise ImportError("progress=True needs tqdm: pip install 'llmpipe[progress]'") from None
        return None
    return tqdm.tqdm(total=total, initial=done, desc="batch", unit="call", file=sys.stderr)


def _stderr_is_a_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False
