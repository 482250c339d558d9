"""The sync shim's private loop: uvloop's when uvloop is installed, asyncio's without it."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from llmpipe import LLM, LLMConfig
from llmpipe._loop_driver import new_private_loop

MESSAGES = [{"role": "user", "content": "Hello!"}]


def test_private_loop_is_uvloop_when_uvloop_is_installed() -> None:
    loop = new_private_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_private_loop_is_asyncio_when_uvloop_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    loop = new_private_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_sync_llm_calls_the_server_from_a_uvloop_private_loop(config: LLMConfig) -> None:
    with LLM(config) as llm:
        reply = llm.chat_completion(MESSAGES, temperature=0.2, max_tokens=16)
        loop_types = {type(llm._runner._loop).__module__.split(".")[0]}
    assert reply.choices[0].message.content
    assert loop_types == {"uvloop"}
