"""One rule for the tokens a reply reports (llmpipe.wire.usage), read the same
way by counting, usage tracking, rate limits and logging."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmpipe import AsyncLLM, RetryMiddleware, UsageMiddleware, default_middlewares
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.testing import Fault
from llmpipe.wire.usage import TokenCount, read_usage, reply_figures, usage_figures
from llmpipe.wire.vendor import usage_of

HELLO = [{"role": "user", "content": "hello"}]


def test_the_servers_total_is_kept_when_it_reports_one():
    assert read_usage(
        {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 10}
    ) == TokenCount(5, 3, 10)


def test_without_a_total_the_total_is_prompt_plus_completion():
    assert read_usage({"prompt_tokens": 5, "completion_tokens": 3}) == TokenCount(5, 3, 8)


def test_only_a_total_counts_as_prompt_tokens():
    assert read_usage({"total_tokens": 9}) == TokenCount(9, 0, 9)


def test_embeddings_report_no_completion_tokens():
    assert read_usage({"prompt_tokens": 4, "total_tokens": 4}) == TokenCount(4, 0, 4)


def test_what_is_not_a_count_is_not_usage():
    assert read_usage({"prompt_tokens": "5", "total_tokens": -1}) is None
    assert read_usage({"prompt_tokens": True}) is None
    assert read_usage(None) is None
    assert read_usage({}) is None


async def test_stats_and_usage_tracking_agree_on_a_reply_whose_total_is_not_the_sum(
    llm_server, config
):
    """A reply reporting prompt 5 / completion 3 / total 10 used to give
    get_stats().total_tokens == 10 but get_usage().total.total_tokens == 8."""
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 10}
    llm_server.add_faults(
        Fault(
            status=200,
            body={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )
    )
    stack = default_middlewares(config).insert_before(RetryMiddleware, UsageMiddleware())
    async with AsyncLLM(config, stack) as llm:
        await llm.chat_completion(HELLO)
        stats, totals = llm.get_stats(), llm.get_usage().total
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (5, 3, 10)
    assert (totals.prompt_tokens, totals.completion_tokens, totals.total_tokens) == (5, 3, 10)


_COUNT = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(0, 3), st.just("2"), st.just([1])
)
_DETAILS = st.one_of(
    st.none(),
    st.just([]),
    st.just("x"),
    st.fixed_dictionaries(
        {}, optional={"cached_tokens": _COUNT, "reasoning_tokens": _COUNT, "other": _COUNT}
    ),
)
_USAGE = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": _COUNT,
        "completion_tokens": _COUNT,
        "total_tokens": _COUNT,
        "prompt_tokens_details": _DETAILS,
        "completion_tokens_details": _DETAILS,
    },
)


_ABSENT = object()


@settings(max_examples=400, deadline=None)
@given(usage=st.one_of(st.just(_ABSENT), st.none(), st.just([]), st.just("x"), st.just(3), _USAGE))
def test_a_replys_usage_read_in_line_agrees_with_the_general_reader(usage):
    """reply_figures reads the usual shape without usage_figures: same answer for every shape."""
    payload = {"id": "x"} if usage is _ABSENT else {"id": "x", "usage": usage}
    request = LLMRequest("chat/completions", body={"model": "m"})
    response = LLMResponse.from_json(request, payload)
    assert reply_figures(response) == usage_figures(usage_of(payload))
