"""LLM: the sync shim over AsyncLLM.

It owns one private event loop, run by the calling threads themselves
(``LoopDriver``): no thread hop per call. It works inside Jupyter or any
running loop, and one LLM can be shared by many threads.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from llmpipe._config_from import config_from
from llmpipe._loop_driver import LoopDriver
from llmpipe.client import AsyncLLM, LastResponse, MessageLike
from llmpipe.config import LLMConfig
from llmpipe.middleware import Stats
from llmpipe.pipeline import MiddlewareLike
from llmpipe.streaming.typed import SyncStream
from llmpipe.transport.base import Transport
from llmpipe.wire.build import Omit, Prompt
from llmpipe.wire.models import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    ModelsResponse,
    RawReply,
)

if TYPE_CHECKING:
    from llmpipe.batch import BatchResult
    from llmpipe.middleware.usage import UsageSnapshot

__all__ = ["LLM"]

T = TypeVar("T")


def _shutdown(runner: LoopDriver, client: AsyncLLM) -> None:
    runner.stop(client.close())


def _collected(runner: LoopDriver, client: AsyncLLM) -> None:
    """An LLM that was used is being collected (or the interpreter exits) unclosed.

    A finalizer rather than ``__del__``: it also runs for an LLM caught in a
    reference cycle, where weakref callbacks run before ``__del__``.
    """
    if runner.started:
        warnings.warn(
            "unclosed LLM: call close() or use 'with LLM(...)'; llmpipe closed it for you",
            ResourceWarning,
            stacklevel=2,
        )
    _shutdown(runner, client)


class LLM:
    """The synchronous client: the same API as ``AsyncLLM``, blocking.

    ``LLM("http://host:8000/v1", api_key=..., model=...)`` is short for
    ``LLM(LLMConfig(base_url=..., api_key=..., model=...))``.
    """

    def __init__(
        self,
        config: LLMConfig | str | None = None,
        middlewares: Sequence[MiddlewareLike] | None = None,
        *,
        transport: Transport | None = None,
        **settings: Any,
    ) -> None:
        config = config_from(config, settings, "LLM")
        self._client = AsyncLLM(config, middlewares, transport=transport)
        self._runner = LoopDriver()
        self._finalizer = weakref.finalize(self, _collected, self._runner, self._client)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"LLM({self.config!r}, {state})"

    @property
    def config(self) -> LLMConfig:
        """The settings this client was built with (frozen)."""
        return self._client.config

    @property
    def async_client(self) -> AsyncLLM:
        """The AsyncLLM underneath (for its pipeline and transport)."""
        return self._client

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has run: a closed client refuses new calls."""
        return not self._finalizer.alive

    @overload
    def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[False] = False,
        response_model: None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse: ...

    @overload
    def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[True],
        response_model: None = None,
        **kwargs: Any,
    ) -> SyncStream[ChatCompletionChunk, ChatCompletionResponse]: ...

    @overload
    def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[False] = False,
        response_model: type[T],
        **kwargs: Any,
    ) -> T: ...

    def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: bool = False,
        response_model: type[T] | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse | SyncStream[ChatCompletionChunk, ChatCompletionResponse] | T:
        """Send ``messages`` to ``/chat/completions`` and return the reply.

        Returns a ``ChatCompletionResponse``: the text is
        ``reply.choices[0].message.content``. With ``stream=True``, a
        ``SyncStream`` instead: iterate it for ``ChatCompletionChunk`` objects as
        they arrive (the last may have no choices: it carries the usage), or
        call ``collect()`` for the whole ``ChatCompletionResponse``. With
        ``response_model`` (an attrs class), the server is asked for JSON of
        that shape and an instance of it is returned.

        ``temperature`` and ``max_tokens`` default to the config's; ``OMIT``
        leaves one out of the body; ``model=`` replaces the config's. The
        per-call options ``timeout``, ``deadline``, ``max_retries``,
        ``extra_headers``, ``first_event_timeout``, ``idle_timeout``, ``cache``
        and ``tag`` apply to this call and are not sent; any other keyword goes
        into the JSON body as is. Failures raise an ``LLMError`` subclass
        (``llmpipe.errors``).
        """
        if not (stream or kwargs) and response_model is None:  # the usual call: no keywords
            return self._runner.run(self._client.chat_completion(messages, temperature, max_tokens))
        result = self._runner.run(
            self._client.chat_completion(
                messages,
                temperature,
                max_tokens,
                stream=stream,  # type: ignore[call-overload]
                response_model=response_model,
                **kwargs,
            )
        )
        return SyncStream(result, self._runner.run) if stream else result

    @overload
    def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[False] = False,
        **kwargs: Any,
    ) -> CompletionResponse: ...

    @overload
    def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[True],
        **kwargs: Any,
    ) -> SyncStream[CompletionResponse, CompletionResponse]: ...

    def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> CompletionResponse | SyncStream[CompletionResponse, CompletionResponse]:
        """Complete ``prompt`` with ``/completions`` (the legacy, non-chat endpoint).

        ``prompt`` is a text, a list of texts, or token ids. Returns a
        ``CompletionResponse`` (the text is ``reply.choices[0].text``); with
        ``stream=True`` a ``SyncStream`` of ``CompletionResponse`` chunks whose
        ``collect()`` returns the whole ``CompletionResponse``. Other arguments
        are as for ``chat_completion``.
        """
        result = self._runner.run(
            self._client.completion(
                prompt,
                temperature,
                max_tokens,
                stream=stream,  # type: ignore[call-overload]
                **kwargs,
            )
        )
        if stream:
            return SyncStream(result, self._runner.run)
        assert isinstance(result, CompletionResponse)
        return result

    def embeddings(
        self, input: Prompt, model: str | None = None, **kwargs: Any
    ) -> EmbeddingResponse:
        """Embed one text, a list of texts, or token ids, with ``/embeddings``.

        Returns an ``EmbeddingResponse``: one vector per input in
        ``reply.data[i].embedding``, in input order. ``model`` defaults to
        ``config.embedding_model``, then ``config.model``; other keywords
        (``dimensions``, ``encoding_format``) go into the JSON body.
        """
        return self._runner.run(self._client.embeddings(input, model, **kwargs))

    def list_models(self, *, timeout: float | None = None) -> ModelsResponse:
        """The models the server offers (``GET /models``): ``[m.id for m in reply.data]``."""
        return self._runner.run(self._client.list_models(timeout=timeout))

    def request(self, method: str, path: str, *, json: Any = None, **options: Any) -> RawReply:
        """Call an endpoint llmpipe does not model, through the same middlewares.

        ``path`` is under the API root (``"tokenize"`` is ``<base_url>/v1/tokenize``);
        one starting with ``/`` is under the server's root. ``json`` is the body;
        the per-call options of ``chat_completion`` apply. Returns a ``RawReply``
        (``json()``, ``text()``, the HTTP facts in ``http``); a non-2xx reply
        raises its ``LLMAPIError``. Replies are read whole (no streaming).
        """
        return self._runner.run(self._client.request(method, path, json=json, **options))

    def batch_chat_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[Any]]:
        """Chat completions for many items, run concurrently on this client's loop.

        Returns one ``BatchResult`` per item, in input order, each holding a
        reply or the error of that item (one failure does not stop the rest).
        ``llmpipe.batch`` lists the items and options accepted (concurrency,
        checkpoints, progress).
        """
        return self._runner.run(self._client.batch_chat_completion(requests, **kwargs))

    def batch_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[CompletionResponse]]:
        """Text completions for many prompts, run concurrently on this client's loop.

        Returns one ``BatchResult[CompletionResponse]`` per prompt, in input
        order; options as for ``batch_chat_completion``.
        """
        return self._runner.run(self._client.batch_completion(requests, **kwargs))

    def get_usage(self) -> UsageSnapshot:
        """Tokens and cost per model and per tag; needs a ``UsageMiddleware`` in the stack."""
        return self._client.get_usage()

    def reset_usage(self) -> None:
        """Clear the usage totals (a budget is not reset: it is money spent)."""
        self._client.reset_usage()

    def get_last_response(self) -> LastResponse | None:
        """The last chat or text completion this client returned (a stream's
        once read to its end), or None before the first."""
        return self._client.get_last_response()

    def get_request_count(self) -> int:
        """API calls made since the last reset (a retried call counts once)."""
        return self._client.get_request_count()

    def get_stats(self) -> Stats:
        """Calls, attempts, retries, failures and tokens since the last reset."""
        return self._client.get_stats()

    def reset_session(self) -> None:
        """Replace the connection pool and clear the last response and counters."""
        self._runner.run(self._client.reset_session())

    def close(self) -> None:
        """Close the pool and stop the private loop. Safe to call twice."""
        if self._finalizer.detach() is not None:
            _shutdown(self._runner, self._client)

    def __enter__(self) -> LLM:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
