"""Shared fixtures: a client pointed at the bundled server over loopback, and a
check that each test leaves no garbage that complains when it is collected."""

from __future__ import annotations

import gc
import sys
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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Set aside what the imports and the collection made (gc.freeze): it lives
    all session, and walking it in every test's collection below would double
    the suite's time."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def leaks_fail_the_test_that_made_them() -> Iterator[None]:
    """Collect garbage after each test, and fail it if that raised anywhere.

    An unclosed client, socket or pool warns (a ResourceWarning, an error under
    filterwarnings) only when it is collected; left to chance, that happens in
    some later, unrelated test, which then fails. Collected here, right after
    the test and its other fixtures are done, the leak is the leaker's.
    """
    yield
    reported: list[str] = []

    def record(unraisable: sys.UnraisableHookArgs) -> None:
        where = unraisable.err_msg or "Exception ignored in"
        error = f"{unraisable.exc_type.__name__}: {unraisable.exc_value}"
        reported.append(f"{where}: {unraisable.object!r}\n    {error}")

    previous, sys.unraisablehook = sys.unraisablehook, record
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    if reported:
        pytest.fail("this test leaked:\n" + "\n".join(reported), pytrace=False)
