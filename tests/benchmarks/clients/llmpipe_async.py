"""llmpipe's AsyncLLM, with the default middleware stack or an empty one.

Every call passes ``temperature`` and ``max_tokens``, as most users do.
"""

from __future__ import annotations

from typing import Any

import llmpipe
from tests.benchmarks import payloads
from tests.benchmarks.clients.base import OnEvent

_MESSAGES: Any = payloads.MESSAGES
_T, _N = payloads.TEMPERATURE, payloads.MAX_TOKENS


def config(base_url: str, connections: int) -> llmpipe.LLMConfig:
    return llmpipe.LLMConfig(
        base_url=base_url,
        api_key=payloads.API_KEY,
        model=payloads.MODEL,
        max_retries=0,
        connection_limit=connections,
    )


class LlmpipeAsync:
    def __init__(self, base_url: str, connections: int, stack: str) -> None:
        middlewares = None if stack == "default" else []
        self._llm = llmpipe.AsyncLLM(config(base_url, connections), middlewares=middlewares)

    async def chat(self, model: str) -> str:
        if model == payloads.MODEL:  # the usual call: the model comes from the config
            reply = await self._llm.chat_completion(_MESSAGES, temperature=_T, max_tokens=_N)
        else:
            reply = await self._llm.chat_completion(
                _MESSAGES, temperature=_T, max_tokens=_N, model=model
            )
        content = reply.choices[0].message.content
        return content if isinstance(content, str) else ""

    async def stream(self, model: str, on_event: OnEvent | None = None) -> int:
        extra = {} if model == payloads.MODEL else {"model": model}
        chunks = await self._llm.chat_completion(
            _MESSAGES, temperature=_T, max_tokens=_N, stream=True, **extra
        )
        events = 0
        if on_event is None:
            async for chunk in chunks:
                if chunk.choices:
                    chunk.choices[0].delta.content  # noqa: B018 - read it, as a caller would
                events += 1
            return events
        async for chunk in chunks:
            if chunk.choices:
                chunk.choices[0].delta.content  # noqa: B018
            events += 1
            on_event()
        return events

    async def aclose(self) -> None:
        await self._llm.close()


async def connect(base_url: str, connections: int, stack: str = "default") -> LlmpipeAsync:
    return LlmpipeAsync(base_url, connections, stack)
