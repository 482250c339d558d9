"""The API key never leaks: not into logs, reprs or errors. And logs carry no prompts.

Every call goes over real loopback HTTP to the bundled server, which is
started with the key so it checks that the key really is sent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from loguru import logger

from llmpipe import (
    LLM,
    AsyncLLM,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    InternalServerError,
    LLMConfig,
    LLMConnectionError,
    LLMTimeoutError,
    Message,
    disable_logging,
    enable_logging,
)
from llmpipe.testing import Fault, LLMServer

KEY = "sk-test-SECRET-0123456789"
OTHER_KEY = "sk-other-key-9876543210"
PROMPT = "purple-elephant-prompt-4711"
FAST = {"retry_delay": 0.001, "max_retry_delay": 0.01}


def ask(text: str = PROMPT) -> list[Message]:
    return [Message(role="system", content="Be brief."), Message(role="user", content=text)]


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exception_chain(error: BaseException) -> list[BaseException]:
    """The error and every exception it was raised from or during."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def texts_of(error: BaseException) -> list[str]:
    """Every rendering of an error a user might print, log or send on."""
    texts = [str(error), repr(error), repr(error.args)]
    for name in ("body", "headers"):
        if hasattr(error, name):
            texts.append(repr(getattr(error, name)))
    return texts


# --- fixtures --------------------------------------------------------------------


@pytest.fixture
def keyed_server() -> Iterator[LLMServer]:
    """A server that answers only requests carrying KEY."""
    with LLMServer(api_key=KEY).run_in_thread() as server:
        yield server


@pytest.fixture
def other_key_server() -> Iterator[LLMServer]:
    """A server that expects a different key, so KEY gets a 401."""
    with LLMServer(api_key=OTHER_KEY).run_in_thread() as server:
        yield server


@pytest.fixture
def keyed_config(keyed_server: LLMServer) -> LLMConfig:
    return LLMConfig(base_url=keyed_server.base_url, api_key=KEY, **FAST)


@pytest.fixture
def capture_logs() -> Iterator[Callable[[str], list[Any]]]:
    """``capture_logs(level)`` turns llmpipe's logging on into a list it returns."""

    def enable(level: str) -> list[Any]:
        lines: list[Any] = []
        enable_logging(level, sink=lines.append)
        return lines

    yield enable
    disable_logging()


def log_text(lines: list[Any]) -> str:
    """The formatted lines, plus the structured fields each record carried."""
    return "".join(f"{line}{line.record['extra']!r}\n" for line in lines)


@attrs.define
class Scenario:
    """What a run through every kind of call and failure left behind."""

    logs: list[Any]
    errors: list[BaseException] = attrs.field(factory=list)
    reprs: list[str] = attrs.field(factory=list)


async def capture_error(scenario: Scenario, call: Any) -> None:
    try:
        await call
    except Exception as error:
        scenario.errors.append(error)
    else:
        raise AssertionError("the call was expected to fail")


@pytest.fixture
async def scenario(
    keyed_config: LLMConfig,
    keyed_server: LLMServer,
    other_key_server: LLMServer,
    capture_logs: Callable[[str], list[Any]],
) -> Scenario:
    """Successes, a retried 503, a 400, a 401, a refused connection, a timeout,
    reset_session and close, all with the key set and DEBUG logs captured."""
    run = Scenario(logs=capture_logs("DEBUG"))
    run.reprs += [repr(keyed_config), str(keyed_config)]

    client = AsyncLLM(keyed_config)
    run.reprs.append(repr(client))
    await client.chat_completion(ask())
    await client.completion(PROMPT)
    await client.list_models()

    keyed_server.add_faults(*[Fault(status=503)] * (keyed_config.max_retries + 1))
    await capture_error(run, client.chat_completion(ask()))
    keyed_server.add_faults(Fault(status=400))
    await capture_error(run, client.chat_completion(ask()))
    keyed_server.add_faults(Fault(delay=1.0), Fault(delay=1.0))
    await capture_error(run, client.chat_completion(ask(), timeout=0.2, max_retries=1))

    await client.reset_session()
    await client.chat_completion(ask())
    run.reprs.append(repr(client))
    await client.close()
    run.reprs.append(repr(client))
    await capture_error(run, client.chat_completion(ask()))

    wrong_server = attrs.evolve(keyed_config, base_url=other_key_server.base_url)
    async with AsyncLLM(wrong_server) as unauthorised:
        await capture_error(run, unauthorised.chat_completion(ask()))

    refused = attrs.evolve(keyed_config, base_url=f"http://127.0.0.1:{free_port()}")
    async with AsyncLLM(refused) as nowhere:
        run.reprs.append(repr(nowhere))
        await capture_error(run, nowhere.chat_completion(ask()))

    sync = LLM(keyed_config)
    run.reprs.append(repr(sync))
    sync.chat_completion(ask())
    sync.reset_session()
    sync.close()
    run.reprs.append(repr(sync))
    return run


# --- the key is used -----------------------------------------------------------------


async def test_the_scenario_hits_every_failure_it_means_to(scenario: Scenario) -> None:
    kinds = [type(error) for error in scenario.errors]

    assert kinds == [
        InternalServerError,
        BadRequestError,
        LLMTimeoutError,
        ClientClosedError,
        AuthenticationError,
        LLMConnectionError,
    ]


async def test_the_key_is_sent_to_the_server_as_a_bearer_token(
    scenario: Scenario, keyed_server: LLMServer, other_key_server: LLMServer
) -> None:
    requests = keyed_server.requests + other_key_server.requests

    assert len(requests) >= 10
    for request in requests:
        assert request.headers.get("Authorization") == f"Bearer {KEY}"


# --- the key does not leak -------------------------------------------------------------


async def test_the_key_is_absent_from_debug_logs(scenario: Scenario) -> None:
    text = log_text(scenario.logs)

    assert "chat/completions" in text  # the logs were captured at all
    assert KEY not in text
    assert "Bearer" not in text


async def test_the_key_is_absent_from_every_error(scenario: Scenario) -> None:
    for error in scenario.errors:
        for link in exception_chain(error):
            for text in texts_of(link):
                assert KEY not in text, f"{type(link).__name__} leaks the key: {text}"


async def test_the_key_is_absent_from_config_and_client_reprs(scenario: Scenario) -> None:
    assert len(scenario.reprs) >= 6
    for text in scenario.reprs:
        assert KEY not in text


def test_config_repr_and_str_mask_the_key() -> None:
    config = LLMConfig(api_key=KEY)

    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert "api_key='***'" in repr(config)


def test_client_reprs_mask_the_key() -> None:
    config = LLMConfig(api_key=KEY)
    sync = LLM(config)
    try:
        texts = [repr(sync), repr(sync.async_client), repr(sync.async_client.transport)]
    finally:
        sync.close()

    for text in texts:
        assert KEY not in text


# --- logging ------------------------------------------------------------------------


@pytest.fixture
def llmpipe_records() -> Iterator[list[Any]]:
    """Every llmpipe record that reaches loguru, whatever its level."""
    records: list[Any] = []
    handler = logger.add(
        records.append, level=0, filter=lambda record: record["name"].startswith("llmpipe")
    )
    yield records
    logger.remove(handler)


def test_logging_is_silent_by_default(config: LLMConfig, llmpipe_records: list[Any]) -> None:
    with LLM(config) as llm:
        llm.chat_completion(ask())

    assert llmpipe_records == []


def test_logger_enable_is_the_switch_that_turns_records_on(
    config: LLMConfig, llmpipe_records: list[Any]
) -> None:
    logger.enable("llmpipe")
    try:
        with LLM(config) as llm:
            llm.chat_completion(ask())
    finally:
        logger.disable("llmpipe")

    assert any("chat/completions" in str(record) for record in llmpipe_records)


def test_info_logs_show_the_request_and_response_lines(
    config: LLMConfig, capture_logs: Callable[[str], list[Any]]
) -> None:
    lines = capture_logs("INFO")
    with LLM(config) as llm:
        llm.chat_completion(ask())
    text = log_text(lines)

    assert "request POST chat/completions" in text
    assert "model=gpt-4" in text
    assert "messages=2" in text
    assert "response chat/completions status=200" in text
    assert "client closed" in text


def test_info_logs_leave_out_debug_details(
    config: LLMConfig, capture_logs: Callable[[str], list[Any]]
) -> None:
    lines = capture_logs("INFO")
    with LLM(config) as llm:
        llm.chat_completion(ask())

    assert "parameters" not in log_text(lines)


def test_info_logs_carry_no_message_content(
    config: LLMConfig, capture_logs: Callable[[str], list[Any]]
) -> None:
    lines = capture_logs("INFO")
    with LLM(config) as llm:
        llm.chat_completion(ask())
        llm.completion(PROMPT)

    assert PROMPT not in log_text(lines)
    assert "Be brief" not in log_text(lines)


def test_debug_logs_show_parameters_but_no_message_content(
    config: LLMConfig, capture_logs: Callable[[str], list[Any]]
) -> None:
    lines = capture_logs("DEBUG")
    with LLM(config) as llm:
        llm.chat_completion(ask(), max_tokens=7)
        llm.completion(PROMPT)
    text = log_text(lines)

    assert "'max_tokens': 7" in text
    assert PROMPT not in text
    assert "Be brief" not in text


async def test_debug_logs_carry_no_message_content_even_on_failures(
    scenario: Scenario,
) -> None:
    text = log_text(scenario.logs)

    assert "retrying chat/completions" in text  # the failures were logged
    assert "failed after" in text
    assert PROMPT not in text


async def test_a_key_echoed_by_the_server_is_masked_in_errors_and_logs(llm_server):
    import llmpipe

    echoed = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth"}}
    llm_server.add_faults(Fault(status=401, body=echoed))
    lines: list[str] = []
    llmpipe.enable_logging("DEBUG", sink=lines.append)
    try:
        async with llmpipe.AsyncLLM(
            llmpipe.LLMConfig(base_url=llm_server.base_url, api_key=KEY)
        ) as llm:
            with pytest.raises(llmpipe.AuthenticationError) as caught:
                await llm.list_models()
    finally:
        llmpipe.disable_logging()
    error = caught.value
    assert "Incorrect API key provided: ***" in str(error)
    assert KEY not in str(error)
    assert KEY not in repr(error.body)
    assert all(KEY not in line for line in lines)


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        (Fault(status=401, echo_key=True), AuthenticationError),
        (Fault(error_after_events=0, status=400, echo_key=True), BadRequestError),
        (Fault(error_after_events=2, status=400, echo_key=True, split_echo=True), BadRequestError),
    ],
    ids=["error-reply-to-a-stream-request", "error-event", "error-event-split-across-chunks"],
)
async def test_a_key_echoed_into_a_stream_is_masked_in_errors_and_logs(
    llm_server: LLMServer, capture_logs: Callable[[str], list[Any]], fault: Fault, raised: type
) -> None:
    llm_server.add_faults(fault)
    lines = capture_logs("DEBUG")
    async with AsyncLLM(LLMConfig(base_url=llm_server.base_url, api_key=KEY)) as llm:
        with pytest.raises(raised) as caught:
            stream = await llm.chat_completion(ask(), stream=True)
            await stream.collect()
    assert "The request's key was ***." in str(caught.value)  # echoed, and masked
    for link in exception_chain(caught.value):
        for text in texts_of(link):
            assert KEY not in text, f"{type(link).__name__} leaks the key: {text}"
    assert KEY not in log_text(lines)
    assert len(llm_server.requests) == 1
