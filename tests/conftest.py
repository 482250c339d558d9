"""Shared fixtures: a client pointed at the bundled server over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.testing import LLMServer

FAST_RETRIES = {"retry_delay": 0.01, "max_retry_delay": 0.5}


@pytest.fixture
def config(llm_server: LLMServer) -> LLMConfig:
    """A config for the bundled server with quick retries."""
    return LLMConfig(base_url=llm_server.base_url, **FAST_RETRIES)


@pytest.fixture
async def client(config: LLMConfig) -> AsyncIterator[AsyncLLM]:
    async with AsyncLLM(config) as llm:
        yield llm
