"""The default layers are composed once by the pipeline (their ``wrap``): each
answers a call as its ``__call__`` does outside a pipeline, and what may change
after the pipeline is built is still read on every call."""

import pytest

from llmpipe import (
    AsyncLLM,
    ClassifyErrorsMiddleware,
    CountingMiddleware,
    InternalServerError,
    LLMRequest,
    LLMResponse,
    LoggingMiddleware,
    MockTransport,
    Pipeline,
    RetryMiddleware,
    SessionMiddleware,
    disable_logging,
    enable_logging,
)
from llmpipe.middleware.retry import ExponentialBackoff, RetryBudget

HELLO = [{"role": "user", "content": "hello"}]
USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 3,
    "total_tokens": 9,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {"reasoning_tokens": 1},
}


def replies(*statuses):
    """A transport answering each call with the next status (then 200s), usage reported."""
    left = list(statuses)

    def handle(request):
        status = left.pop(0) if left else 200
        return LLMResponse.from_json(request, {"id": "r", "usage": USAGE}, status=status)

    return MockTransport(handle)


def ask():
    return LLMRequest("chat/completions", body={"model": "m", "messages": HELLO})


async def outcome(handler):
    """What one call gives: the reply's status, or the error's type and attempts."""
    request = ask()
    try:
        response = await handler(request)
    except InternalServerError as error:
        return type(error).__name__, error.attempts, request.context.attempts
    return response.status, request.context.attempts


def layers():
    """A counter outside a retry outside classification, as the default stack has them."""
    policy = ExponentialBackoff(max_retries=2, base_delay=0, jitter=False)
    retry = RetryMiddleware(policy, budget=RetryBudget(), sleep=lambda delay: _nothing())
    return CountingMiddleware(), retry, ClassifyErrorsMiddleware()


async def _nothing():
    return None


@pytest.mark.parametrize("statuses", [(), (500,), (500, 500, 500)])
async def test_the_layers_in_a_pipeline_and_called_directly_answer_and_count_alike(statuses):
    piped = layers()
    pipeline = Pipeline(piped, replies(*statuses))
    counting, retry, classify = layers()
    send = replies(*statuses).send

    async def direct(request):
        return await counting(request, lambda r: retry(r, lambda s: classify(s, send)))

    assert await outcome(pipeline) == await outcome(direct)
    assert piped[0].snapshot() == counting.snapshot()
    assert piped[1].budget.available == retry.budget.available


async def test_logging_turned_on_after_the_client_is_built_logs_its_calls(llm_server, config):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HELLO)  # logging off: no record
        lines = []
        enable_logging("INFO", sink=lines.append)
        try:
            await llm.chat_completion(HELLO)
        finally:
            disable_logging()

    text = "".join(str(line) for line in lines)
    assert "request POST chat/completions" in text
    assert "response chat/completions status=200" in text


async def test_logging_called_directly_logs_as_in_a_pipeline():
    lines = []
    enable_logging("INFO", sink=lines.append)
    try:
        await LoggingMiddleware()(ask(), replies().send)
        await Pipeline([LoggingMiddleware()], replies())(ask())
    finally:
        disable_logging()

    messages = [line.record["message"].split(" in ")[0] for line in lines]  # less the timing
    assert len(messages) == 4
    assert messages[:2] == messages[2:]


def test_a_session_layer_without_a_count_leaves_the_chain():
    async def handler(request):
        raise AssertionError("not called")

    assert SessionMiddleware().wrap(handler) is handler


def test_a_session_layers_count_is_fixed_at_construction():
    with pytest.raises(AttributeError):
        SessionMiddleware(5).recycle_after = 10  # type: ignore[misc]


async def test_a_session_layer_called_directly_recycles_as_in_a_pipeline():
    direct, piped = SessionMiddleware(2), SessionMiddleware(2)
    direct_transport, piped_transport = replies(), replies()
    direct.bind(direct_transport)
    pipeline = Pipeline([piped], piped_transport)
    for _ in range(4):
        await direct(ask(), direct_transport.send)
        await pipeline(ask())

    assert direct_transport.recycles == piped_transport.recycles == 2


def test_a_deposit_given_the_clocks_reading_counts_as_one_that_reads_it():
    now = [100.0]
    reading, given = (RetryBudget(ratio=0.5, min_per_second=0, clock=lambda: now[0]) for _ in "ab")
    for step in range(30):
        now[0] += 0.7
        reading.deposit()
        given.deposit(now[0])
        if step % 4 == 0:
            assert reading.withdraw() == given.withdraw()
    assert reading.available == given.available > 0
