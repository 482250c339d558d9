"""The `llm_server` pytest fixture, registered through the `pytest11` entry point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import LLMServer

__all__ = ["llm_server"]


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A started `LLMServer` on a thread of its own, stopped after the test.

    Its own thread and loop serve sync tests and async tests on any loop
    alike. Fresh for each test, so faults and recorded requests never leak.
    """
    server = LLMServer()
    with server.run_in_thread():
        yield server
