"""The official SDK's ``AsyncOpenAI``: its default httpx backend, or its aiohttp one.

The aiohttp backend is measured only where the installed version ships one
(``openai.DefaultAioHttpClient`` with the ``aiohttp`` extra); otherwise the
table says so instead of a number.
"""

from __future__ import annotations

from typing import Any

import openai

from tests.benchmarks import payloads
from tests.benchmarks.clients._openai_limits import limits
from tests.benchmarks.clients.base import OnEvent, Unsupported

# The SDK types messages as TypedDicts; the shared payload is plain dicts.
_MESSAGES: Any = payloads.MESSAGES


def _http_client(backend: str, connections: int) -> Any:
    if backend == "httpx":
        return openai.DefaultAsyncHttpxClient(limits=limits(connections))
    factory = getattr(openai, "DefaultAioHttpClient", None)
    if factory is None:
        raise Unsupported(f"openai {openai.__version__} has no aiohttp backend")
    try:
        return factory(limits=limits(connections))
    except RuntimeError as exc:  # the class exists but the `aiohttp` extra is missing
        raise Unsupported(f"openai {openai.__version__}: {exc}") from exc


class OpenAIAsync:
    def __init__(self, base_url: str, connections: int, backend: str) -> None:
        self._client = openai.AsyncOpenAI(
            base_url=base_url + "/v1",
            api_key=payloads.API_KEY,
            max_retries=0,
            http_client=_http_client(backend, connections),
        )

    async def chat(self, model: str) -> str:
        reply = await self._client.chat.completions.create(
            model=model,
            messages=_MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
        )
        return reply.choices[0].message.content or ""

    async def stream(self, model: str, on_event: OnEvent | None = None) -> int:
        stream = await self._client.chat.completions.create(
            model=model,
            messages=_MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
            stream=True,
        )
        events = 0
        async for chunk in stream:
            if chunk.choices:
                chunk.choices[0].delta.content  # noqa: B018 - read it, as a caller would
            events += 1
            if on_event is not None:
                on_event()
        return events

    async def aclose(self) -> None:
        await self._client.close()


async def connect(base_url: str, connections: int, backend: str = "httpx") -> OpenAIAsync:
    return OpenAIAsync(base_url, connections, backend)
