"""LoggingMiddleware: one line when a call starts, one when it ends.

Templates are constants and carry no prompt text and no headers, so neither
a user's data nor the API key reaches a log. Records go to loguru's
``llmpipe`` logger, which is disabled until ``llmpipe.enable_logging()``.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from llmpipe.errors import LLMError
from llmpipe.pipeline import Handler
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["LoggingMiddleware"]

_START = "request {method} {endpoint} model={model} messages={messages} temperature={temperature}"
_DETAIL = "request {endpoint} parameters: {parameters}"
_DONE = "response {endpoint} status={status} id={id} tokens={tokens} in {elapsed:.3f} s"
_FAILED = "request {endpoint} failed after {elapsed:.3f} s: {error_type}: {error}"

_NOT_PARAMETERS = frozenset({"messages", "prompt", "input"})


class LoggingMiddleware:
    """INFO for each call and reply, DEBUG for parameters, ERROR for failures."""

    def __repr__(self) -> str:
        return "LoggingMiddleware()"

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        body: Any = request.body or {}
        messages = body.get("messages")
        logger.info(
            _START,
            method=request.method,
            endpoint=request.endpoint,
            model=body.get("model", "-"),
            messages=len(messages) if isinstance(messages, list) else "-",
            temperature=body.get("temperature", "-"),
        )
        logger.opt(lazy=True).debug(
            _DETAIL,
            endpoint=lambda: request.endpoint,
            parameters=lambda: {k: v for k, v in body.items() if k not in _NOT_PARAMETERS},
        )
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except LLMError as error:
            logger.error(
                _FAILED,
                endpoint=request.endpoint,
                elapsed=time.perf_counter() - started,
                error_type=type(error).__name__,
                error=error,
            )
            raise
        payload = _json_or_none(response)
        usage = payload.get("usage") if isinstance(payload, dict) else None
        logger.info(
            _DONE,
            endpoint=request.endpoint,
            status=response.status,
            id=payload.get("id", "-") if isinstance(payload, dict) else "-",
            tokens=usage.get("total_tokens", "-") if isinstance(usage, dict) else "-",
            elapsed=time.perf_counter() - started,
        )
        return response


def _json_or_none(response: LLMResponse) -> Any:
    try:
        return response.json()
    except LLMError:
        return None
