"""Every llmpipe error survives pickle with its fields: multiprocessing, Celery
and Ray ship exceptions between processes that way."""

from __future__ import annotations

import asyncio
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import llmpipe.errors as errors_module
from llmpipe import AsyncLLM, LLMConfig, StreamTruncatedError
from llmpipe.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    IncompleteOutputError,
    InternalServerError,
    LLMAPIError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RefusalError,
    UnprocessableEntityError,
    UsageLimitExceeded,
)
from llmpipe.routing.errors import NoDeploymentAvailable, UnknownAlias
from llmpipe.testing import Fault, LLMServer


def api(cls: type[LLMAPIError], status: int) -> LLMAPIError:
    return cls(
        "chat/completions: nope",
        status_code=status,
        body={"error": {"message": "nope"}},
        request_id="req-7",
        headers={"Retry-After": "2"},
    )


EXAMPLES: list[LLMError] = [
    LLMError("plain"),
    LLMConnectionError("POST http://h/v1/chat/completions: refused"),
    LLMTimeoutError("no reply within 3 s"),
    ClientClosedError("closed"),
    UsageLimitExceeded("budget"),
    LLMResponseError("not JSON", body="<html>"),
    StreamTruncatedError("cut", events=3, partial={"text": "Hel"}),
    api(LLMAPIError, 409),
    api(BadRequestError, 400),
    api(AuthenticationError, 401),
    api(PermissionDeniedError, 403),
    api(NotFoundError, 404),
    api(UnprocessableEntityError, 422),
    api(RateLimitError, 429),
    api(InternalServerError, 503),
    NoDeploymentAvailable("chat: every deployment is cooling down"),
    UnknownAlias("no alias 'gpt-5' in this router"),
    IncompleteOutputError("cut by the token limit", finish_reason="length", reply={"id": "r"}),
    RefusalError("refused", refusal="I cannot help with that", reply={"id": "r"}),
]


def every_error_class() -> set[type[LLMError]]:
    found: set[type[LLMError]] = set()
    pending: list[type[LLMError]] = [LLMError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def fields(error: BaseException) -> dict[str, object]:
    return {name: value for name, value in vars(error).items() if not name.startswith("__")}


def test_the_examples_cover_every_error_class():
    assert {type(e) for e in EXAMPLES} == every_error_class()
    assert {type(e) for e in EXAMPLES} >= {
        getattr(errors_module, name)
        for name in errors_module.__all__
        if isinstance(getattr(errors_module, name), type)
    }


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_error_round_trips_through_pickle_with_its_class_text_and_fields(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.args == error.args
    assert str(copy) == str(error)
    assert fields(copy) == fields(error)


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_the_not_retried_reason_survives_pickle(error):
    marked = error.not_retried_because("the retry budget is spent")
    copy = pickle.loads(pickle.dumps(marked))
    assert copy.not_retried == "the retry budget is spent"
    assert str(copy).endswith("(not retried: the retry budget is spent)")


def raise_in_child(error: LLMError) -> None:
    raise error


def test_a_truncated_stream_error_from_a_real_call_crosses_a_process_with_its_partial_reply():
    async def truncated() -> StreamTruncatedError:
        async with LLMServer() as server:
            server.add_faults(Fault(drop_after_events=3))
            async with AsyncLLM(LLMConfig(base_url=server.base_url, max_retries=0)) as llm:
                messages = [{"role": "user", "content": "a b c d e"}]
                stream = await llm.chat_completion(messages, stream=True)
                with pytest.raises(StreamTruncatedError) as caught:
                    await stream.collect()
        return caught.value

    error = asyncio.run(truncated())
    assert error.partial is not None
    with ProcessPoolExecutor(1) as pool, pytest.raises(StreamTruncatedError) as crossed:
        pool.submit(raise_in_child, error).result()
    assert crossed.value.events == error.events == 3
    assert crossed.value.partial == error.partial
    assert str(crossed.value) == str(error)


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_the_attempts_and_time_of_a_retried_call_survive_pickle(error):
    counted = error.after_attempts(4, 6.84)
    copy = pickle.loads(pickle.dumps(counted))
    assert (copy.attempts, copy.elapsed) == (4, 6.84)
    assert str(copy).endswith("; gave up after 4 attempts over 6.8 s")
