"""llmpipe's sync shim ``LLM``, called sequentially, with per-call arguments."""

from __future__ import annotations

from typing import Any

import llmpipe
from tests.benchmarks import payloads
from tests.benchmarks.clients.llmpipe_async import config

_MESSAGES: Any = payloads.MESSAGES
_T, _N = payloads.TEMPERATURE, payloads.MAX_TOKENS


class LlmpipeSync:
    def __init__(self, base_url: str, connections: int) -> None:
        self._llm = llmpipe.LLM(config(base_url, connections))

    def chat(self, model: str) -> str:
        if model == payloads.MODEL:
            reply = self._llm.chat_completion(_MESSAGES, temperature=_T, max_tokens=_N)
        else:
            reply = self._llm.chat_completion(_MESSAGES, temperature=_T, max_tokens=_N, model=model)
        content = reply.choices[0].message.content
        return content if isinstance(content, str) else ""

    def close(self) -> None:
        self._llm.close()


def connect(base_url: str, connections: int) -> LlmpipeSync:
    return LlmpipeSync(base_url, connections)
