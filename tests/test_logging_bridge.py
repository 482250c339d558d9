"""enable_stdlib_logging: llmpipe's records in the standard logging module, with
their structured fields, at the level the application gives its logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import attrs
import pytest
from loguru import logger as loguru_logger

import llmpipe
from llmpipe import AsyncLLM, LLMConfig, disable_stdlib_logging, enable_stdlib_logging, logs
from llmpipe.testing import Fault, LLMServer

HELLO = [{"role": "user", "content": "Hello there"}]


class Records(logging.Handler):
    """Keeps the records the ``llmpipe`` logger emits."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    target = logging.getLogger("llmpipe")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    enable_stdlib_logging()
    try:
        yield handler
    finally:
        disable_stdlib_logging()
        target.removeHandler(handler)
        target.setLevel(logging.NOTSET)


async def test_a_call_logs_to_the_stdlib_llmpipe_logger_with_its_fields(records, client):
    await client.chat_completion(HELLO)
    done = next(r for r in records.records if r.getMessage().startswith("response"))
    assert done.name == "llmpipe"
    assert done.levelno == logging.INFO
    assert (done.endpoint, done.status) == ("chat/completions", 200)  # type: ignore[attr-defined]
    assert isinstance(done.elapsed, float)  # type: ignore[attr-defined]
    started = "request POST chat/completions model=gpt-4"
    assert any(m.startswith(started) for m in records.messages())


async def test_the_record_points_at_the_llmpipe_line_that_wrote_it(records, llm_server, client):
    llm_server.add_faults(Fault(status=503))
    await client.chat_completion(HELLO)
    retry = next(r for r in records.records if r.levelno == logging.WARNING)
    assert retry.pathname.endswith("retry/middleware.py")
    assert retry.funcName == "__call__"


async def test_records_below_the_loggers_level_are_not_passed_on(records, llm_server, client):
    logging.getLogger("llmpipe").setLevel(logging.WARNING)
    records.records.clear()  # the client's "ready" line, logged at INFO before the change
    llm_server.add_faults(Fault(status=503))
    await client.chat_completion(HELLO)
    assert [r.levelname for r in records.records] == ["WARNING"]


async def test_debug_records_flow_when_the_logger_asks_for_debug(records, client):
    logging.getLogger("llmpipe").setLevel(logging.DEBUG)
    await client.chat_completion(HELLO, max_tokens=5)
    detail = next(r for r in records.records if r.levelno == logging.DEBUG)
    assert detail.parameters["max_tokens"] == 5  # type: ignore[attr-defined]


def test_a_field_named_like_a_log_record_attribute_gets_a_prefix(records):
    logs.info("probe {name} in {module}", name="alpha", module="beta")
    (record,) = records.records
    assert record.getMessage() == "probe alpha in beta"
    assert (record.name, record.llmpipe_name, record.llmpipe_module) == (  # type: ignore[attr-defined]
        "llmpipe",
        "alpha",
        "beta",
    )


async def test_after_disabling_no_record_reaches_the_stdlib_logger(records, client):
    disable_stdlib_logging()
    records.records.clear()  # the client's "ready" line, logged before
    await client.chat_completion(HELLO)
    assert records.records == []


async def test_the_bridge_leaves_loguru_silent(records, client):
    seen: list[str] = []
    handler = loguru_logger.add(seen.append, level="DEBUG")
    try:
        await client.chat_completion(HELLO)
    finally:
        loguru_logger.remove(handler)
    assert records.records
    assert seen == []


async def test_a_named_or_given_logger_receives_the_records(config):
    handler = Records()
    target = logging.getLogger("myapp.llm")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        assert enable_stdlib_logging(target) is target
        async with AsyncLLM(config) as llm:
            await llm.chat_completion(HELLO)
    finally:
        disable_stdlib_logging()
        target.removeHandler(handler)
    assert any(m.startswith("response chat/completions status=200") for m in handler.messages())


def test_a_logger_of_the_wrong_type_is_refused_naming_what_to_pass():
    with pytest.raises(TypeError, match=r"logger must be a logger name or a logging\.Logger"):
        enable_stdlib_logging(42)  # type: ignore[arg-type]


async def test_the_api_key_is_in_no_stdlib_record(records):
    logging.getLogger("llmpipe").setLevel(logging.DEBUG)
    key = "sk-live-0123456789abcdef0123456789abcdef"
    server = LLMServer(api_key=key)
    with server.run_in_thread():
        config = LLMConfig(base_url=server.base_url, api_key=key, max_retries=0)
        async with AsyncLLM(config) as llm:
            await llm.chat_completion(HELLO)
        async with AsyncLLM(attrs.evolve(config, api_key=key[:-4] + "beef")) as llm:
            with pytest.raises(llmpipe.AuthenticationError):
                await llm.chat_completion(HELLO)
    texts = [r.getMessage() + repr(vars(r)) for r in records.records]
    assert any("401" in t for t in texts)
    assert not any(key in t or key[:-4] + "beef" in t for t in texts)
