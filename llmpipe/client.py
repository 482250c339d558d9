"""AsyncLLM: the typed API. It builds an LLMRequest, sends it through the
pipeline, and structures the reply into attrs models."""

from __future__ import annotations

import asyncio
import warnings
from asyncio import CancelledError, get_running_loop
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from llmpipe import logs
from llmpipe._config_from import config_from
from llmpipe._dependencies import task_of
from llmpipe._urls import shown
from llmpipe.config import LLMConfig
from llmpipe.errors import ClientClosedError, LLMError, LLMResponseError, api_error_from
from llmpipe.middleware import RetryMiddleware, default_middlewares
from llmpipe.middleware.reports import CallCounter, Stats, UsageReporter
from llmpipe.pipeline import MiddlewareLike, Pipeline
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.typed import ChatStream, CompletionStream
from llmpipe.transport.aiohttp import AiohttpTransport
from llmpipe.transport.base import Transport
from llmpipe.wire.arguments import check_option
from llmpipe.wire.build import (
    Omit,
    Prompt,
    add_body_fields,
    call_settings,
    generation_request,
    prompt_value,
)
from llmpipe.wire.convert import structure_reply
from llmpipe.wire.dump import dump_messages
from llmpipe.wire.models import (
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    Message,
    ModelsResponse,
    RawReply,
)
from llmpipe.wire.models.http import HTTPInfo
from llmpipe.wire.schema import response_format_for, structured_reply

if TYPE_CHECKING:
    from llmpipe.batch import BatchResult
    from llmpipe.middleware.usage import UsageSnapshot

__all__ = ["AsyncLLM", "MessageLike"]

T = TypeVar("T")
MessageLike = Message | Mapping[str, Any]
LastResponse = ChatCompletionResponse | CompletionResponse


class AsyncLLM:
    """An async client for one OpenAI-compatible server.

    ``AsyncLLM("http://host:8000/v1", api_key=..., model=...)`` is short for
    ``AsyncLLM(LLMConfig(base_url=..., api_key=..., model=...))``; every
    ``LLMConfig`` field is a keyword. ``middlewares=None`` uses
    ``default_middlewares(config)``; a list replaces the stack. Construction
    does no I/O: the connection pool opens on the first call, inside the
    running loop.
    """

    def __init__(
        self,
        config: LLMConfig | str | None = None,
        middlewares: Sequence[MiddlewareLike] | None = None,
        *,
        transport: Transport | None = None,
        **settings: Any,
    ) -> None:
        self.config = config_from(config, settings, type(self).__name__)
        if isinstance(middlewares, (str, bytes)):  # a key passed second: never echo it
            raise TypeError("middlewares must be a list of middlewares (or None)")
        self.transport = transport if transport is not None else AiohttpTransport(self.config)
        stack = default_middlewares(self.config) if middlewares is None else middlewares
        for layer in stack:
            if isinstance(layer, RetryMiddleware):  # a policy of the user's: the config's numbers
                layer.use_config(self.config)
        self.pipeline = Pipeline(stack, self.transport)
        # mypy rejects a Protocol as type[T]; find() takes runtime protocols by design
        self._counter = self.pipeline.find(CallCounter)  # type: ignore[type-abstract]
        self._last_response: LastResponse | None = None
        self._calls: set[asyncio.Task[Any] | None] = set()
        self._cancelled_by_close: set[asyncio.Task[Any]] = set()
        self._closed = False
        logs.info(
            "client ready: base_url={base_url} model={model}",
            base_url=shown(self.config.base_url),
            model=self.config.model,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.config!r}, {state})"

    # -- the API -----------------------------------------------------------

    @overload
    async def chat_completion(
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
    async def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[True],
        response_model: None = None,
        **kwargs: Any,
    ) -> ChatStream: ...

    @overload
    async def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[False] = False,
        response_model: type[T],
        **kwargs: Any,
    ) -> T: ...

    async def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: bool = False,
        response_model: type[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Create a chat completion.

        ``stream=True`` returns a ``ChatStream`` of chunks. ``response_model``
        (an attrs class) asks for JSON of that shape and returns an instance.
        Other ``kwargs`` go into the JSON body, except the per-call options
        ``model``, ``timeout``, ``max_retries``, ``extra_headers``,
        ``first_event_timeout`` and ``idle_timeout``. They are checked before
        anything is sent: ranges as ``LLMConfig`` checks them (``ValueError``),
        a name one typo away from a known parameter or a value JSON cannot
        encode (``TypeError``). ``extra_body={...}`` is merged into the body as is.
        """
        if response_model is not None:
            if stream:
                raise ValueError("response_model cannot be combined with stream=True")
            kwargs["response_format"] = response_format_for(response_model)
        request = generation_request(
            self.config,
            "chat/completions",
            "messages",
            dump_messages(messages),
            temperature,
            max_tokens,
            stream,
            kwargs,
        )
        # _send, written out: one coroutine fewer per call (keep the two equal)
        if self._closed:
            self._ensure_open()  # raises
        task = task_of(get_running_loop())  # asyncio.current_task(), cheaper on 3.11
        calls = self._calls
        calls.add(task)
        try:
            response = await (self.pipeline(request) if stream else self.pipeline.plain(request))
        except CancelledError:
            if task in self._cancelled_by_close:
                raise self._closed_in_flight(request, task) from None
            raise
        finally:
            calls.discard(task)
        if response.status >= 300:
            raise api_error_from(response)
        if stream:
            return ChatStream(response, self._remember)
        result = self._structure(response, ChatCompletionResponse)
        self._last_response = result
        if response_model is None:
            return result
        return structured_reply(result, response_model, "chat/completions")

    @overload
    async def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[False] = False,
        **kwargs: Any,
    ) -> CompletionResponse: ...

    @overload
    async def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: Literal[True],
        **kwargs: Any,
    ) -> CompletionStream: ...

    async def completion(
        self,
        prompt: Prompt,
        temperature: float | Omit | None = None,
        max_tokens: int | Omit | None = None,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> CompletionResponse | CompletionStream:
        """Create a text completion for one prompt or a list of prompts (text or
        token ids, as the spec allows)."""
        value = prompt_value(prompt, "prompt")
        request = generation_request(
            self.config, "completions", "prompt", value, temperature, max_tokens, stream, kwargs
        )
        response = await self._send(request)
        if stream:
            return CompletionStream(response, self._remember)
        result = self._structure(response, CompletionResponse)
        self._last_response = result
        return result

    async def embeddings(
        self, input: Prompt, model: str | None = None, **kwargs: Any
    ) -> EmbeddingResponse:
        """Embed one text or a list of texts, or token ids (``model`` defaults to
        ``config.embedding_model``, then ``config.model``)."""
        value = prompt_value(input, "input")
        options = call_settings(self.config, kwargs)
        body = {"model": model or self.config.embedding_model or self.config.model, "input": value}
        add_body_fields(body, kwargs)
        request = LLMRequest("embeddings", body=body, **options)
        return self._structure(await self._send(request), EmbeddingResponse)

    async def list_models(self, *, timeout: float | None = None) -> ModelsResponse:  # noqa: ASYNC109 - a per-call option, as on every method
        """List the models the server offers."""
        if timeout is not None:
            check_option("timeout", timeout)
        request = LLMRequest("models", method="GET", timeout=timeout)
        return self._structure(await self._send(request), ModelsResponse)

    async def request(
        self, method: str, path: str, *, json: Any = None, **options: Any
    ) -> RawReply:
        """Call an endpoint llmpipe does not model, through the same middlewares.

        ``path`` is under the API root (``"tokenize"`` is ``<base_url>/v1/tokenize``);
        one starting with ``/`` is under the server's root (``"/tokenize"`` for
        llama.cpp's and vLLM's). ``json`` is the body. The per-call options of
        every method apply (``timeout``, ``max_retries``, ``extra_headers``,
        ``deadline``, ``tag``...); a non-2xx reply raises its ``LLMAPIError``.
        Replies are read whole (no streaming).
        """
        settings = call_settings(self.config, options)
        if options:
            raise TypeError(
                f"request() got unknown keyword argument(s) {sorted(options)}; "
                "the JSON body goes in json="
            )
        request = LLMRequest(path, method=method.upper(), body=json, **settings)
        return RawReply(await self._send(request))

    async def batch_chat_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[Any]]:
        """Chat completions for many items, in input order, one result or error each
        (see ``llmpipe.batch``)."""
        from llmpipe import batch

        return await batch.batch_chat_completion(self, requests, **kwargs)

    async def batch_completion(
        self, requests: Iterable[Any], **kwargs: Any
    ) -> list[BatchResult[CompletionResponse]]:
        """Text completions for many prompts, in input order (see ``llmpipe.batch``)."""
        from llmpipe import batch

        return await batch.batch_completion(self, requests, **kwargs)

    def get_usage(self) -> UsageSnapshot:
        """Tokens and cost per model and per tag; needs a ``UsageMiddleware`` in the stack."""
        return self._usage().usage()

    def reset_usage(self) -> None:
        """Clear the usage totals (a budget is not reset: it is money spent)."""
        self._usage().reset()

    def get_last_response(self) -> LastResponse | None:
        """The last chat or text completion this client returned, if any."""
        return self._last_response

    def get_request_count(self) -> int:
        """API calls made (a retried call counts once)."""
        return self._counting().snapshot().requests

    def get_stats(self) -> Stats:
        """Calls, attempts, retries, failures and tokens since the last reset."""
        return self._counting().snapshot()

    async def reset_session(self) -> None:
        """Replace the connection pool and clear the last response and counters."""
        self._ensure_open()
        await self.transport.recycle()
        self._last_response = None
        if self._counter is not None:
            self._counter.reset()
        logs.info("session reset: new connection pool, counters cleared")

    async def close(self) -> None:
        """Close the connection pool, and every middleware that has an async
        ``close()`` (caches, Redis-backed limiters). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        for task in self._calls:
            if task is not None and task is not current:
                self._cancelled_by_close.add(task)
                task.cancel()
        try:
            await self.pipeline.close()
        finally:
            await self.transport.close()
        logs.info("client closed")

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> AsyncLLM:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        transport = getattr(self, "transport", None)
        closed = getattr(self, "_closed", True)  # __init__ may have failed half-way
        if transport is not None and not closed and transport.holds_resources:
            warnings.warn(
                f"unclosed {type(self).__name__}: call close() or use 'async with'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
            transport.abandon()

    # -- internals -----------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                f"this {type(self).__name__} is closed; create a new client to send requests"
            )

    def _counting(self) -> CallCounter:
        if self._counter is None:
            raise LLMError(
                "request counts need a CountingMiddleware in the middleware stack; "
                "add CountingMiddleware() to the list you passed"
            )
        return self._counter

    def _usage(self) -> UsageReporter:
        usage = self.pipeline.find(UsageReporter)  # type: ignore[type-abstract]
        if usage is None:
            raise LLMError(
                "usage totals need a UsageMiddleware in the middleware stack: "
                "default_middlewares(config).insert_before(RetryMiddleware, UsageMiddleware())"
            )
        return usage

    def _remember(self, result: LastResponse) -> None:
        self._last_response = result

    async def _send(self, request: LLMRequest) -> LLMResponse:
        """Run the pipeline (``Pipeline.send``, written out); a call still waiting
        when ``close()`` runs (in a retry sleep, a rate-limit wait) ends with
        ``ClientClosedError``, not a hang.

        ``chat_completion``, the call made by the thousand, writes this body out
        rather than await it: a coroutine fewer per call, and one object fewer
        held by each call in flight. The two stay equal (tests/test_cancellation.py
        closes the client under each). A plain request goes down ``pipeline.plain``:
        the same chain, or the transport itself when there are no middlewares.
        """
        if self._closed:
            self._ensure_open()  # raises
        task = task_of(get_running_loop())  # asyncio.current_task(), cheaper on 3.11
        calls = self._calls
        calls.add(task)
        try:
            response = await (
                self.pipeline(request) if request.stream else self.pipeline.plain(request)
            )
        except CancelledError:
            if task in self._cancelled_by_close:
                raise self._closed_in_flight(request, task) from None
            raise
        finally:
            calls.discard(task)
        if response.status >= 300:
            raise api_error_from(response)
        return response

    def _closed_in_flight(self, request: LLMRequest, task: asyncio.Task[Any]) -> ClientClosedError:
        """The error for a call that ``close()`` cancelled: the cancellation is
        ours, not the caller's, so it is taken back."""
        task.uncancel()
        return ClientClosedError(
            f"{request.endpoint}: the client was closed while this call was in flight"
        )

    def _structure(self, response: LLMResponse, model: type[T]) -> T:
        """Structure a reply, with its HTTP facts in ``http``; a reply that does not
        fit counts as a failed call."""
        try:
            return structure_reply(response, model, HTTPInfo(response))
        except LLMResponseError:
            if self._counter is not None:
                self._counter.count_failure()
            raise
