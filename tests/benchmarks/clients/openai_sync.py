"""The official SDK's sync ``OpenAI`` client (httpx), called sequentially."""

from __future__ import annotations

from typing import Any

import openai

from tests.benchmarks import payloads
from tests.benchmarks.clients._openai_limits import limits

# The SDK types messages as TypedDicts; the shared payload is plain dicts.
_MESSAGES: Any = payloads.MESSAGES


class OpenAISync:
    def __init__(self, base_url: str, connections: int) -> None:
        self._client = openai.OpenAI(
            base_url=base_url + "/v1",
            api_key=payloads.API_KEY,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(limits=limits(connections)),
        )

    def chat(self, model: str) -> str:
        reply = self._client.chat.completions.create(
            model=model,
            messages=_MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
        )
        return reply.choices[0].message.content or ""

    def close(self) -> None:
        self._client.close()


def connect(base_url: str, connections: int) -> OpenAISync:
    return OpenAISync(base_url, connections)
