"""Batch calls: many chat or text completions at bounded concurrency, in order.

Every item gets one ``BatchResult``, holding its response or its error: one
failing item never sinks the batch, and no exception escapes except
cancellation and ``KeyboardInterrupt``. ``concurrency`` workers take items in
input order, so at most that many calls are in flight and memory stays flat
however long the list.

With ``checkpoint="results.jsonl"`` each finished item is appended to the
file, durably, as it completes (``llmpipe.batch.checkpoint`` has the format and
the fingerprint rule). A re-run with the same file returns the stored
results of items whose index and fingerprint still match and sends only the
rest, so a crash or Ctrl-C loses nothing; an item whose request changed is
redone. Failed items are redone too unless ``retry_failed=False``.

A progress bar (tqdm) shows when tqdm is installed and stderr is a terminal;
``progress=True`` or ``False`` forces it on or off.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmpipe.batch.runner import CHAT, TEXT, BatchError, BatchResult, run
from llmpipe.wire.models import CompletionResponse

if TYPE_CHECKING:
    from llmpipe.client import AsyncLLM
    from llmpipe.sync import LLM

__all__ = [
    "BatchError",
    "BatchResult",
    "batch_chat_completion",
    "batch_chat_completion_sync",
    "batch_completion",
    "batch_completion_sync",
]


async def batch_chat_completion(
    client: AsyncLLM,
    requests: Iterable[Any],
    *,
    concurrency: int = 8,
    checkpoint: str | Path | None = None,
    progress: bool | None = None,
    retry_failed: bool = True,
    response_model: type[Any] | None = None,
    **common_kwargs: Any,
) -> list[BatchResult[Any]]:
    """Chat completions for each item: a list of messages, or a dict of
    ``chat_completion`` keyword arguments (``{"messages": [...], "temperature": 0}``)
    merged over ``common_kwargs``. Results are in input order; each response is a
    ``ChatCompletionResponse``, or a ``response_model`` instance when one is given."""
    if response_model is not None:
        common_kwargs["response_model"] = response_model
    return await run(
        client, CHAT, requests, concurrency, checkpoint, progress, retry_failed, common_kwargs
    )


async def batch_completion(
    client: AsyncLLM,
    requests: Iterable[Any],
    *,
    concurrency: int = 8,
    checkpoint: str | Path | None = None,
    progress: bool | None = None,
    retry_failed: bool = True,
    **common_kwargs: Any,
) -> list[BatchResult[CompletionResponse]]:
    """Text completions for each item: a prompt, or a dict of ``completion``
    keyword arguments merged over ``common_kwargs``. Results are in input order."""
    return await run(
        client, TEXT, requests, concurrency, checkpoint, progress, retry_failed, common_kwargs
    )


def batch_chat_completion_sync(
    llm: LLM, requests: Iterable[Any], **kwargs: Any
) -> list[BatchResult[Any]]:
    """``batch_chat_completion`` through a sync ``LLM``, on its private loop."""
    return llm.batch_chat_completion(requests, **kwargs)


def batch_completion_sync(
    llm: LLM, requests: Iterable[Any], **kwargs: Any
) -> list[BatchResult[CompletionResponse]]:
    """``batch_completion`` through a sync ``LLM``, on its private loop."""
    return llm.batch_completion(requests, **kwargs)
