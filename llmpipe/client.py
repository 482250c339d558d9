"""AsyncLLM: the typed API. It builds an LLMRequest, sends it through the
pipeline, and structures the reply into attrs models."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from loguru import logger

from llmpipe._convert import dump_messages, structure_reply
from llmpipe.config import LLMConfig
from llmpipe.errors import ClientClosedError, LLMError
from llmpipe.middleware import CountingMiddleware, Stats, api_error_from, default_middlewares
from llmpipe.models import ChatCompletionResponse, CompletionResponse, Message, ModelsResponse
from llmpipe.pipeline import MiddlewareLike, Pipeline
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.aiohttp_transport import AiohttpTransport
from llmpipe.transport.base import Transport

__all__ = ["AsyncLLM", "MessageLike"]

T = TypeVar("T")
MessageLike = Message | Mapping[str, Any]
LastResponse = ChatCompletionResponse | CompletionResponse


class AsyncLLM:
    """An async client for one OpenAI-compatible server.

    ``middlewares=None`` uses ``default_middlewares(config)``; a list replaces
    the stack. Construction does no I/O: the connection pool opens on the
    first call, inside the running loop.
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        middlewares: Sequence[MiddlewareLike] | None = None,
        *,
        transport: Transport | None = None,
    ) -> None:
        self.config = config if config is not None else LLMConfig()
        self.transport = transport if transport is not None else AiohttpTransport(self.config)
        stack = default_middlewares(self.config) if middlewares is None else middlewares
        self.pipeline = Pipeline(stack, self.transport)
        self._counter: CountingMiddleware | None = self.pipeline.find(CountingMiddleware)
        self._last_response: LastResponse | None = None
        self._closed = False
        logger.info(
            "client ready: base_url={base_url} model={model}",
            base_url=self.config.base_url,
            model=self.config.model,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.config!r}, {state})"

    # -- the API -----------------------------------------------------------

    async def chat_completion(
        self,
        messages: Sequence[MessageLike],
        temperature: float | None = None,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        """Create a chat completion. ``kwargs`` go into the JSON body, except
        the per-call options ``model``, ``timeout``, ``max_retries`` and
        ``extra_headers``."""
        request = self._request(
            "chat/completions",
            "messages",
            dump_messages(messages),
            temperature,
            max_tokens,
            kwargs,
        )
        result = structure_reply(await self._send(request), ChatCompletionResponse)
        self._last_response = result
        return result

    async def completion(
        self,
        prompt: str | Sequence[str],
        temperature: float | None = None,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> CompletionResponse:
        """Create a text completion for one prompt or a list of prompts."""
        if not isinstance(prompt, str) and not (
            isinstance(prompt, Sequence) and all(isinstance(p, str) for p in prompt)
        ):
            raise TypeError(f"prompt must be a str or a list of str, got {type(prompt).__name__}")
        value = prompt if isinstance(prompt, str) else list(prompt)
        request = self._request("completions", "prompt", value, temperature, max_tokens, kwargs)
        result = structure_reply(await self._send(request), CompletionResponse)
        self._last_response = result
        return result

    async def list_models(self, *, timeout: float | None = None) -> ModelsResponse:
        """List the models the server offers."""
        request = LLMRequest("models", method="GET", timeout=timeout)
        return structure_reply(await self._send(request), ModelsResponse)

    def get_last_response(self) -> LastResponse | None:
        """The last chat or text completion this client returned, if any."""
        return self._last_response

    def get_request_count(self) -> int:
        """API calls made (a retried call counts once)."""
        return self._counting().requests

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
        logger.info("session reset: new connection pool, counters cleared")

    async def close(self) -> None:
        """Close the connection pool. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.transport.close()
        logger.info("client closed")

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
        if transport is not None and not self._closed and transport.holds_resources:
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

    def _counting(self) -> CountingMiddleware:
        if self._counter is None:
            raise LLMError(
                "request counts need a CountingMiddleware in the middleware stack; "
                "add CountingMiddleware() to the list you passed"
            )
        return self._counter

    def _request(
        self,
        endpoint: str,
        key: str,
        value: Any,
        temperature: float | None,
        max_tokens: int | None,
        kwargs: dict[str, Any],
    ) -> LLMRequest:
        config = self.config
        timeout = kwargs.pop("timeout", None)
        headers = kwargs.pop("extra_headers", None) or {}
        retries = kwargs.pop("max_retries", None)
        body: dict[str, Any] = {
            "model": kwargs.pop("model", None) or config.model,
            key: value,
            "temperature": config.temperature if temperature is None else temperature,
        }
        limit = config.max_tokens if max_tokens is None else max_tokens
        if limit is not None:
            body["max_tokens"] = limit
        body.update(kwargs)
        options = {} if retries is None else {"max_retries": retries}
        return LLMRequest(endpoint, body=body, headers=headers, timeout=timeout, options=options)

    async def _send(self, request: LLMRequest) -> LLMResponse:
        self._ensure_open()
        response = await self.pipeline(request)
        if response.status >= 300:  # a custom stack without ClassifyErrorsMiddleware
            raise api_error_from(response)
        return response
