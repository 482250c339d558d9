"""Tests of llmpipe.sync: the blocking LLM shim, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import attrs
import pytest

from llmpipe import (
    LLM,
    ChatCompletionResponse,
    ClientClosedError,
    CompletionResponse,
    Handler,
    LLMConfig,
    LLMError,
    LLMRequest,
    LLMResponse,
    Message,
    Model,
    ModelsResponse,
)
from llmpipe._loop_driver import LoopDriver
from llmpipe.testing import DEFAULT_MODELS, Fault, LLMServer

AIOHTTP_UNCLOSED = ("Unclosed client session", "Unclosed connector")

MESSAGES = [
    Message(role="system", content="You are helpful."),
    Message(role="user", content="Hello!"),
]


def live_threads() -> set[threading.Thread]:
    return set(threading.enumerate())


@attrs.define
class Outcome:
    """What a call made on another thread returned or raised, and when it ended."""

    result: object = None
    error: BaseException | None = None
    ended: float | None = None


def call_in_thread(call: Callable[[], object]) -> tuple[threading.Thread, Outcome]:
    """Start ``call`` on a daemon thread (daemon: a deadlocked call cannot hang pytest)."""
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.result = call()
        except BaseException as error:
            outcome.error = error
        outcome.ended = time.perf_counter()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_for_requests(server: LLMServer, count: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while len(server.requests) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not receive {count} request(s) in {within} s")
        time.sleep(0.01)


# --- the spec's examples -------------------------------------------------------


def test_spec_setup_builds_an_open_llm_with_that_config(llm_server: LLMServer) -> None:
    config = LLMConfig(
        base_url=llm_server.base_url, model="gpt-4", temperature=0.7, timeout=30, max_retries=3
    )

    llm = LLM(config)
    try:
        assert llm.config is config
        assert not llm.closed
    finally:
        llm.close()


def test_chat_completion_with_message_objects_returns_the_typed_reply(config: LLMConfig) -> None:
    with LLM(config) as llm:
        response = llm.chat_completion(MESSAGES)

    assert isinstance(response, ChatCompletionResponse)
    assert isinstance(response.choices[0].message, Message)
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == "Echo: Hello!"


def test_chat_completion_sends_the_messages_and_config_defaults(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    with LLM(config) as llm:
        llm.chat_completion(MESSAGES)

    (request,) = llm_server.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.json["model"] == "gpt-4"
    assert request.json["temperature"] == 0.7
    assert request.json["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello!"},
    ]


def test_completion_with_max_tokens_returns_the_typed_reply(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    with LLM(config) as llm:
        response = llm.completion(prompt="Once upon a time", max_tokens=100)

    assert isinstance(response, CompletionResponse)
    assert response.choices[0].text == " Echo: Once upon a time"
    assert llm_server.requests[0].json["max_tokens"] == 100


def test_completion_max_tokens_is_honoured_by_the_server(config: LLMConfig) -> None:
    with LLM(config) as llm:
        response = llm.completion(prompt="Once upon a time", max_tokens=2)

    assert response.choices[0].text == " Echo: Once"
    assert response.choices[0].finish_reason == "length"


def test_list_models_returns_the_typed_model_list(config: LLMConfig) -> None:
    with LLM(config) as llm:
        models = llm.list_models()

    assert isinstance(models, ModelsResponse)
    assert all(isinstance(model, Model) for model in models.data)
    assert [model.id for model in models.data] == list(DEFAULT_MODELS)


def test_context_manager_closes_the_llm_and_its_private_loop(config: LLMConfig) -> None:
    before = live_threads()
    with LLM(config) as llm:
        response = llm.chat_completion(MESSAGES)
        assert live_threads() == before  # the calling thread runs the loop itself

    assert response.choices[0].message.content == "Echo: Hello!"
    assert llm.closed
    assert llm._runner.loop_closed


def test_get_last_response_is_the_last_completion(config: LLMConfig) -> None:
    with LLM(config) as llm:
        assert llm.get_last_response() is None
        llm.chat_completion(MESSAGES)
        last = llm.completion("Once upon a time")

        assert llm.get_last_response() is last


# --- inside a running event loop ------------------------------------------------


async def test_sync_llm_works_when_called_inside_a_running_event_loop(config: LLMConfig) -> None:
    with LLM(config) as llm:
        response = llm.chat_completion([Message(role="user", content="from a coroutine")])
        models = llm.list_models()

    assert response.choices[0].message.content == "Echo: from a coroutine"
    assert [model.id for model in models.data] == list(DEFAULT_MODELS)


# --- sharing between threads ------------------------------------------------------

THREADS = 16
CALLS_PER_THREAD = 5


def test_one_llm_shared_by_many_threads_gives_each_call_its_own_answer(
    config: LLMConfig,
) -> None:
    barrier = threading.Barrier(THREADS)

    def worker(number: int) -> list[tuple[str, str | None]]:
        barrier.wait(timeout=30)
        pairs = []
        for call in range(CALLS_PER_THREAD):
            text = f"thread {number} call {call}"
            reply = llm.chat_completion([Message(role="user", content=text)])
            pairs.append((text, reply.choices[0].message.content))
        return pairs

    with LLM(config) as llm, ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))

    sent_and_received = [pair for pairs in results for pair in pairs]
    assert len(sent_and_received) == THREADS * CALLS_PER_THREAD
    for sent, received in sent_and_received:
        assert received == f"Echo: {sent}"


def test_request_count_is_exact_when_many_threads_share_one_llm(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    barrier = threading.Barrier(THREADS)

    def worker(number: int) -> None:
        barrier.wait(timeout=30)
        for call in range(CALLS_PER_THREAD):
            llm.completion(f"thread {number} call {call}")

    with LLM(config) as llm:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(worker, range(THREADS)))
        count = llm.get_request_count()

    assert count == THREADS * CALLS_PER_THREAD
    assert len(llm_server.requests) == THREADS * CALLS_PER_THREAD


# --- retries ---------------------------------------------------------------------


def test_a_call_retried_twice_counts_as_one_request(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    llm_server.add_faults(Fault(status=503), Fault(status=503))

    with LLM(config) as llm:
        response = llm.chat_completion(MESSAGES)
        count = llm.get_request_count()

    assert response.choices[0].message.content == "Echo: Hello!"
    assert count == 1
    assert len(llm_server.requests) == 3


def test_stats_report_the_attempts_and_retries_of_a_retried_call(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    llm_server.add_faults(Fault(status=503), Fault(status=503))

    with LLM(config) as llm:
        llm.chat_completion(MESSAGES)
        stats = llm.get_stats()

    assert stats.requests == 1
    assert stats.attempts == 3
    assert stats.retries == 2
    assert stats.failures == 0


# --- close and reset -------------------------------------------------------------


def test_close_twice_is_harmless(config: LLMConfig) -> None:
    llm = LLM(config)
    llm.list_models()

    llm.close()
    llm.close()

    assert llm.closed


def test_close_before_any_call_is_harmless(config: LLMConfig) -> None:
    llm = LLM(config)

    llm.close()
    llm.close()

    assert llm.closed


def test_a_call_after_close_raises_client_closed_error(config: LLMConfig) -> None:
    llm = LLM(config)
    llm.list_models()
    llm.close()

    with pytest.raises(ClientClosedError, match="closed") as caught:
        llm.chat_completion(MESSAGES)

    assert isinstance(caught.value, LLMError)
    assert "new LLM" in str(caught.value)


def test_a_call_after_close_sends_nothing(config: LLMConfig, llm_server: LLMServer) -> None:
    llm = LLM(config)
    llm.close()

    with pytest.raises(ClientClosedError):
        llm.chat_completion(MESSAGES)
    with pytest.raises(ClientClosedError):
        llm.completion("Once upon a time")
    with pytest.raises(ClientClosedError):
        llm.list_models()

    assert llm_server.requests == []


def test_reset_session_after_close_raises_client_closed_error(config: LLMConfig) -> None:
    llm = LLM(config)
    llm.list_models()
    llm.close()

    with pytest.raises(ClientClosedError):
        llm.reset_session()


def test_reset_session_clears_the_last_response_and_the_request_count(
    config: LLMConfig,
) -> None:
    with LLM(config) as llm:
        llm.chat_completion(MESSAGES)
        assert llm.get_last_response() is not None
        assert llm.get_request_count() == 1

        llm.reset_session()

        assert llm.get_last_response() is None
        assert llm.get_request_count() == 0


def test_llm_keeps_working_after_reset_session(config: LLMConfig) -> None:
    with LLM(config) as llm:
        llm.chat_completion(MESSAGES)
        llm.reset_session()

        response = llm.chat_completion([Message(role="user", content="again")])

        assert response.choices[0].message.content == "Echo: again"
        assert llm.get_request_count() == 1


# --- warnings and leaks ------------------------------------------------------------


def use_and_drop_without_close(config: LLMConfig) -> LoopDriver:
    """Make one call, drop the LLM unclosed; return the driver of its loop."""
    llm = LLM(config)
    llm.chat_completion(MESSAGES)
    runner = llm._runner
    del llm
    gc.collect()
    return runner


def test_a_closed_llm_emits_no_warning(config: LLMConfig) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        llm = LLM(config)
        llm.chat_completion(MESSAGES)
        llm.close()
        del llm
        gc.collect()

    assert [str(w.message) for w in caught] == []


def test_a_dropped_unclosed_llm_warns_once_with_a_resource_warning(config: LLMConfig) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        use_and_drop_without_close(config)

    resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert len(resource) == 1, [str(w.message) for w in caught]
    assert "unclosed LLM" in str(resource[0].message)


def test_a_dropped_unclosed_llm_leaves_no_unclosed_aiohttp_session(
    config: LLMConfig, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.warns(ResourceWarning, match="unclosed LLM") as caught:
        use_and_drop_without_close(config)

    messages = [str(w.message) for w in caught]
    err = capfd.readouterr().err
    for phrase in AIOHTTP_UNCLOSED:
        assert not any(phrase in message for message in messages), messages
        assert phrase not in err
        assert phrase not in caplog.text


def test_a_dropped_unclosed_llm_closes_its_private_loop(config: LLMConfig) -> None:
    with pytest.warns(ResourceWarning, match="unclosed LLM"):
        runner = use_and_drop_without_close(config)

    assert runner.loop_closed


def test_an_unclosed_llm_caught_in_a_reference_cycle_still_warns_once(config: LLMConfig) -> None:
    class Holder:
        llm: LLM | None = None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        holder = Holder()
        holder.llm = LLM(config)
        holder.llm.chat_completion(MESSAGES)
        holder.cycle = holder  # type: ignore[attr-defined]
        del holder
        gc.collect()

    resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert len(resource) == 1, [str(w.message) for w in caught]


def test_a_dropped_llm_that_was_never_used_emits_no_warning(config: LLMConfig) -> None:
    before = live_threads()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        llm = LLM(config)
        del llm
        gc.collect()

    assert [str(w.message) for w in caught] == []
    assert live_threads() == before


# --- close while a call is in flight ------------------------------------------------

STALL = 2.0


def test_close_fails_an_in_flight_call_promptly_with_client_closed_error(
    config: LLMConfig, llm_server: LLMServer
) -> None:
    llm_server.add_faults(Fault(delay=STALL))
    llm = LLM(config)
    caller, outcome = call_in_thread(lambda: llm.chat_completion(MESSAGES))
    wait_for_requests(llm_server, 1)

    closing = time.perf_counter()
    llm.close()
    closed = time.perf_counter()
    caller.join(timeout=STALL * 2)

    assert not caller.is_alive()
    assert isinstance(outcome.error, ClientClosedError), outcome
    assert outcome.ended is not None
    assert outcome.ended - closing < STALL / 4
    assert closed - closing < STALL / 4


# --- re-entrant calls from the loop thread --------------------------------------------


class CallsTheSyncLLM:
    """A middleware that (wrongly) calls the sync LLM from its own loop thread."""

    def __init__(self) -> None:
        self.llm: LLM | None = None

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        assert self.llm is not None
        self.llm.list_models()
        return await call_next(request)


def test_calling_the_sync_llm_from_its_own_loop_raises_instead_of_deadlocking(
    config: LLMConfig,
) -> None:
    middleware = CallsTheSyncLLM()
    llm = LLM(config, middlewares=[middleware])
    middleware.llm = llm

    caller, outcome = call_in_thread(lambda: llm.chat_completion(MESSAGES))
    caller.join(timeout=10)

    assert not caller.is_alive(), "the re-entrant call deadlocked"
    llm.close()
    assert isinstance(outcome.error, LLMError), outcome
    assert "own event loop" in str(outcome.error)


# --- the private loop's kind ----------------------------------------------------


def test_the_private_loop_is_asyncios_even_where_uvloop_is_installed(config: LLMConfig) -> None:
    """The test venv has uvloop; _loop_driver's docstring says why the shim does not use it."""
    import uvloop

    seen: list[type[object]] = []

    async def note_the_loop(request: LLMRequest, call_next: Handler) -> LLMResponse:
        seen.append(type(asyncio.get_running_loop()))
        return await call_next(request)

    with LLM(config, middlewares=[note_the_loop]) as llm:
        llm.chat_completion(MESSAGES)
    assert len(seen) == 1
    assert issubclass(seen[0], asyncio.BaseEventLoop)
    assert not issubclass(seen[0], uvloop.Loop)
