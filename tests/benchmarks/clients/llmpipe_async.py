"""llmpipe's AsyncLLM, with the default middleware stack or an empty one.

Streaming is measured only once ``chat_completion(..., stream=True)`` really
streams: until then ``stream`` raises ``Unsupported`` and the table says so.
"""

from __future__ import annotations

import inspect
from typing import Any

import llmpipe
from tests.benchmarks import payloads
from tests.benchmarks.clients.base import Unsupported


def _takes_stream() -> bool:
    """Whether ``chat_completion`` names ``stream`` (rather than passing it into the body)."""
    return "stream" in inspect.signature(llmpipe.AsyncLLM.chat_completion).parameters


def _touch(chunk: Any) -> None:
    """Read the delta text as a caller would; chunk models may still change shape."""
    choices = getattr(chunk, "choices", None)
    if choices:
        delta = getattr(choices[0], "delta", None)
        getattr(delta, "content", None)


class LlmpipeAsync:
    def __init__(self, base_url: str, connections: int, stack: str) -> None:
        config = llmpipe.LLMConfig(
            base_url=base_url,
            api_key="x",
            model=payloads.MODEL,
            temperature=payloads.TEMPERATURE,
            max_retries=0,
            connection_limit=connections,
        )
        self._llm = llmpipe.AsyncLLM(config, middlewares=None if stack == "default" else [])

    async def chat(self, model: str) -> str:
        if model == payloads.MODEL:  # the usual call: the model comes from the config
            reply = await self._llm.chat_completion(payloads.MESSAGES)
        else:
            reply = await self._llm.chat_completion(payloads.MESSAGES, model=model)
        content = reply.choices[0].message.content
        return content if isinstance(content, str) else ""

    async def stream(self) -> int:
        named = _takes_stream()
        try:
            result: Any = self._llm.chat_completion(payloads.MESSAGES, stream=True)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            if named:
                raise
            raise Unsupported(
                f"not implemented: chat_completion(stream=True) raised {type(exc).__name__}"
            ) from exc
        if not hasattr(result, "__aiter__"):
            raise Unsupported(
                f"not implemented: chat_completion(stream=True) returned {type(result).__name__}"
            )
        events = 0
        async for chunk in result:
            _touch(chunk)
            events += 1
        return events

    async def aclose(self) -> None:
        await self._llm.close()


async def connect(base_url: str, connections: int, stack: str = "default") -> LlmpipeAsync:
    return LlmpipeAsync(base_url, connections, stack)
