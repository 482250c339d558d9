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
        return self._client.config

    @property
    def async_client(self) -> AsyncLLM:
        """The AsyncLLM underneath (for its pipeline and transport)."""
        return self._client

    @property
    def closed(self) -> bool:
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
        response_model: type[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Create a chat completion (see ``AsyncLLM.chat_completion``).

        ``stream=True`` returns a blocking iterator of chunks.
        """
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
        """Create a text completion (see ``AsyncLLM.completion``)."""
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
        """Embed one text or a list of texts (see ``AsyncLLM.embeddings``)."""
        return self._runner.run(self._client.embeddings(input, model, **kwargs))

    def list_models(self, *, timeout: float | None = None) -> ModelsResponse:
        return self._runner.run(self._client.list_models(timeout=timeout))

    def request(self, method: str, path: str, *, json: Any = None, **options: Any) -> RawReply:
        """Call an endpoint llmpipe does not model (see ``AsyncLLM.request``)."""
        return self._runner.run(self._client.request(method, path, json=json, **options))

    def batch_chat_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[Any]]:
        """Chat completions for many items (see ``AsyncLLM.batch_chat_completion``)."""
        return self._runner.run(self._client.batch_chat_completion(requests, **kwargs))

    def batch_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[CompletionResponse]]:
        """Text completions for many prompts (see ``AsyncLLM.batch_completion``)."""
        return self._runner.run(self._client.batch_completion(requests, **kwargs))

    def get_usage(self) -> UsageSnapshot:
        return self._client.get_usage()

    def reset_usage(self) -> None:
        self._client.reset_usage()

    def get_last_response(self) -> LastResponse | None:
        return self._client.get_last_response()

    def get_request_count(self) -> int:
        return self._client.get_request_count()

    def get_stats(self) -> Stats:
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
