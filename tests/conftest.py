"""Shared fixtures: a client pointed at the bundled server over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.testing import LLMServer
from tests.redis_server import redis_server

FAST_RETRIES = {"retry_delay": 0.01, "max_retry_delay": 0.5}


@pytest.fixture
def config(llm_server: LLMServer) -> LLMConfig:
    """A config for the bundled server with quick retries."""
    return LLMConfig(base_url=llm_server.base_url, **FAST_RETRIES)


@pytest.fixture
async def client(config: LLMConfig) -> AsyncIterator[AsyncLLM]:
    async with AsyncLLM(config) as llm:
        yield llm


@pytest.fixture(scope="session")
def redis_service() -> Iterator[str]:
    """One redis-server for the whole run."""
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_service: str) -> str:
    """A redis URL with an empty database for this test."""
    import redis

    connection = redis.Redis.from_url(redis_service)
    connection.flushdb()
    connection.close()
    return redis_service
