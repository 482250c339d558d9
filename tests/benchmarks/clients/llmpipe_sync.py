"""llmpipe's sync shim ``LLM``, called sequentially (its loop thread counts too)."""

from __future__ import annotations

import llmpipe
from tests.benchmarks import payloads


class LlmpipeSync:
    def __init__(self, base_url: str, connections: int) -> None:
        config = llmpipe.LLMConfig(
            base_url=base_url,
            api_key="x",
            model=payloads.MODEL,
            temperature=payloads.TEMPERATURE,
            max_retries=0,
            connection_limit=connections,
        )
        self._llm = llmpipe.LLM(config)

    def chat(self, model: str) -> str:
        if model == payloads.MODEL:
            reply = self._llm.chat_completion(payloads.MESSAGES)
        else:
            reply = self._llm.chat_completion(payloads.MESSAGES, model=model)
        content = reply.choices[0].message.content
        return content if isinstance(content, str) else ""

    def close(self) -> None:
        self._llm.close()


def connect(base_url: str, connections: int) -> LlmpipeSync:
    return LlmpipeSync(base_url, connections)
