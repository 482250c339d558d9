"""Rate-limit parts without a server: bucket maths on a fake clock, the
in-process backend, the server's headers, the token estimator."""

import math

import pytest

from llmpipe import LLMRequest
from llmpipe.middleware.concurrency import ConcurrencyLimitMiddleware
from llmpipe.middleware.ratelimit import (
    Bucket,
    CharacterEstimator,
    Limits,
    LocalLimiter,
    ServerLimits,
    TokenBucket,
    TokenEstimator,
    parse_duration,
    start_time,
)
from llmpipe.middleware.ratelimit.middleware import RateLimitMiddleware
from llmpipe.wire.estimate import TokenEstimate


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def chat(messages, **body):
    return LLMRequest("chat/completions", body={"model": "m", "messages": messages, **body})


# -- bucket maths ---------------------------------------------------------------


def test_a_new_bucket_is_full():
    bucket = TokenBucket(Bucket(rate=2, capacity=5), clock=FakeClock())
    assert bucket.available() == 5
    assert bucket.wait_for(5) == 0


def test_taking_reserves_and_the_next_caller_queues_behind():
    clock = FakeClock()
    bucket = TokenBucket(Bucket(rate=10, capacity=1), clock=clock)
    waits = [bucket.take(1) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_the_bucket_refills_at_its_rate_and_never_past_capacity():
    clock = FakeClock()
    bucket = TokenBucket(Bucket(rate=2, capacity=5), clock=clock)
    bucket.take(5)
    clock.advance(1)
    assert bucket.available() == pytest.approx(2)
    clock.advance(100)
    assert bucket.available() == 5


def test_wait_for_says_how_long_until_n_tokens_are_there():
    clock = FakeClock()
    bucket = TokenBucket(Bucket(rate=4, capacity=8), clock=clock)
    bucket.take(8)
    assert bucket.wait_for(2) == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.wait_for(2) == 0


def test_a_call_larger_than_the_bucket_waits_for_a_full_bucket_then_leaves_debt():
    clock = FakeClock()
    bucket = TokenBucket(Bucket(rate=10, capacity=10), clock=clock)
    bucket.take(4)
    assert bucket.wait_for(25) == pytest.approx(0.4)  # until full, not forever
    assert bucket.take(25) == pytest.approx(0.4)
    clock.advance(0.4)
    assert bucket.available() == pytest.approx(-15)


def test_adjust_gives_back_an_overcharge_but_not_beyond_capacity():
    clock = FakeClock()
    bucket = TokenBucket(Bucket(rate=1, capacity=100), clock=clock)
    bucket.take(60)
    bucket.adjust(-50)
    assert bucket.available() == pytest.approx(90)
    bucket.adjust(-50)
    assert bucket.available() == 100


def test_adjust_charges_an_undercharge_as_debt():
    bucket = TokenBucket(Bucket(rate=1, capacity=10), clock=FakeClock())
    bucket.take(10)
    bucket.adjust(5)
    assert bucket.available() == pytest.approx(-5)


def test_per_minute_holds_one_seconds_worth_unless_told():
    assert Bucket.per_minute(600) == Bucket(rate=10, capacity=10)
    assert Bucket.per_minute(600, burst=1) == Bucket(rate=10, capacity=1)


@pytest.mark.parametrize("field", ["rate", "capacity"])
def test_a_bucket_needs_positive_rate_and_capacity(field):
    with pytest.raises(ValueError, match=field):
        Bucket(**{"rate": 1, "capacity": 1, field: 0})


def test_start_time_is_the_latest_of_now_the_hold_and_every_bucket():
    fast, slow = Bucket(rate=10, capacity=1), Bucket(rate=1, capacity=1)
    assert start_time(5.0, 0.0, [(fast, 5.0, 1), (slow, 7.0, 1)]) == 7.0
    assert start_time(5.0, 9.0, [(fast, 5.0, 1)]) == 9.0
    assert start_time(5.0, 0.0, []) == 5.0


# -- the in-process backend -----------------------------------------------------

EVERY_100_MS = Limits(requests=Bucket(rate=10, capacity=1))


def test_local_limiter_spaces_reservations_evenly():
    limiter = LocalLimiter(clock=FakeClock())
    waits = [limiter.reserve(EVERY_100_MS, 1, 0).wait for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.1, 0.2])


def test_local_limiter_refuses_a_wait_of_max_wait_or_more_and_takes_nothing():
    limiter = LocalLimiter(clock=FakeClock())
    limiter.reserve(EVERY_100_MS, 1, 0)
    refused = limiter.reserve(EVERY_100_MS, 1, 0, max_wait=0.05)
    assert not refused.granted
    assert refused.wait == pytest.approx(0.1)
    assert limiter.reserve(EVERY_100_MS, 1, 0).wait == pytest.approx(0.1)


def test_local_limiter_grants_an_immediate_call_even_with_no_time_left():
    grant = LocalLimiter(clock=FakeClock()).reserve(EVERY_100_MS, 1, 0, max_wait=0.0)
    assert grant.granted
    assert grant.wait == 0


def test_a_call_held_by_tokens_also_moves_its_request_slot():
    # The token bucket decides the start; the next call must still be a full
    # request interval later, not counted from when the first one asked.
    limits = Limits(requests=Bucket(rate=10, capacity=1), tokens=Bucket(rate=100, capacity=100))
    limiter = LocalLimiter(clock=FakeClock())
    limiter.reserve(limits, 1, 100)
    first = limiter.reserve(limits, 1, 100).wait
    second = limiter.reserve(limits, 1, 1).wait
    assert first == pytest.approx(1.0)
    assert second - first >= 0.1 - 1e-9


async def test_local_limiter_hold_delays_the_next_start():
    clock = FakeClock()
    limiter = LocalLimiter(clock=clock)
    await limiter.hold(0.5)
    assert (await limiter.acquire(EVERY_100_MS, 1, 0)).wait == pytest.approx(0.5)


async def test_local_limiter_reconcile_refunds_tokens():
    limits = Limits(tokens=Bucket(rate=1, capacity=100))
    limiter = LocalLimiter(clock=FakeClock())
    await limiter.acquire(limits, 1, 80)
    await limiter.reconcile(limits, -70)
    assert await limiter.available(limits) == {"tokens": pytest.approx(90)}


# -- the server's headers -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("20ms", 0.02),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("1.5", 1.5),
        ("7", 7.0),
        ("250us", 0.00025),
    ],
)
def test_durations_in_openai_formats_are_read_as_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "-1s", "-3", "nan", "inf", "1s later"])
def test_unreadable_durations_are_ignored(text):
    assert parse_duration(text) is None


def test_server_limits_are_read_whatever_the_header_case():
    limits = ServerLimits.from_headers(
        {
            "X-RateLimit-Remaining-Requests": "59",
            "x-ratelimit-remaining-tokens": "1200",
            "X-RATELIMIT-RESET-REQUESTS": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert limits == ServerLimits(59, 1200, 1.0, 360.0)


def test_missing_or_garbled_headers_say_nothing():
    limits = ServerLimits.from_headers({"x-ratelimit-remaining-requests": "many"})
    assert limits == ServerLimits()
    assert limits.hold() == 0


def test_no_requests_remaining_holds_until_the_request_reset():
    limits = ServerLimits(remaining_requests=0, reset_requests=0.5, reset_tokens=9.0)
    assert limits.hold() == 0.5


def test_fewer_tokens_remaining_than_the_next_call_needs_holds_until_the_token_reset():
    limits = ServerLimits(remaining_tokens=100, reset_tokens=2.0, reset_requests=9.0)
    assert limits.hold(next_tokens=150) == 2.0
    assert limits.hold(next_tokens=50) == 0


def test_both_limits_spent_hold_until_the_later_reset():
    limits = ServerLimits(0, 0, reset_requests=1.0, reset_tokens=3.0)
    assert limits.hold() == 3.0


# -- the estimator --------------------------------------------------------------


def test_chat_estimate_is_chars_over_four_plus_overhead_plus_max_tokens():
    request = chat([{"role": "user", "content": "x" * 10}], max_tokens=50)
    assert CharacterEstimator().estimate(request) == TokenEstimate(math.ceil(10 / 4) + 4, 50)


def test_without_max_tokens_the_reply_is_given_the_default_allowance():
    request = chat([{"role": "user", "content": "abcd"}])
    assert CharacterEstimator(completion_allowance=100).estimate(request) == TokenEstimate(5, 100)


def test_each_of_n_choices_reserves_its_own_reply():
    request = chat([{"role": "user", "content": "abcd"}], max_tokens=10, n=3)
    assert CharacterEstimator().estimate(request) == TokenEstimate(5, 30)


def test_max_completion_tokens_wins_over_max_tokens():
    request = chat([], max_tokens=10, max_completion_tokens=40)
    assert CharacterEstimator().estimate(request) == TokenEstimate(0, 40)


def test_text_parts_count_their_text_and_other_parts_a_fixed_cost():
    content = [
        {"type": "text", "text": "x" * 8},
        {"type": "image_url", "image_url": {"url": "data:..."}},
    ]
    request = chat([{"role": "user", "content": content}], max_tokens=0)
    assert CharacterEstimator(part_tokens=85).estimate(request) == TokenEstimate(2 + 85 + 4, 0)


def test_tool_calls_and_tool_definitions_are_counted():
    call = {"id": "1", "type": "function", "function": {"name": "abcd", "arguments": "{}zz"}}
    bare = chat([{"role": "assistant", "content": None}], max_tokens=0)
    with_call = chat([{"role": "assistant", "content": None, "tool_calls": [call]}], max_tokens=0)
    with_tools = chat([], max_tokens=0, tools=[{"type": "function", "function": {"name": "f"}}])
    estimator = CharacterEstimator()
    assert estimator.estimate(with_call).prompt_tokens == estimator.estimate(bare).prompt_tokens + 2
    tools_json = '[[{"type":"function","function":{"name":"f"}}]]'
    assert estimator.estimate(with_tools) == TokenEstimate(math.ceil(len(tools_json) / 4), 0)


def test_a_list_of_prompts_reserves_a_reply_per_prompt():
    request = LLMRequest("completions", body={"prompt": ["abcd", "abcdefgh"], "max_tokens": 5})
    assert CharacterEstimator().estimate(request) == TokenEstimate(1 + 2, 2 * 5)


def test_embeddings_cost_their_input_only():
    request = LLMRequest("embeddings", body={"input": ["abcd", "abcd"], "max_tokens": 99})
    assert CharacterEstimator().estimate(request) == TokenEstimate(2, 0)


def test_a_call_without_a_body_costs_nothing():
    assert CharacterEstimator().estimate(LLMRequest("models", method="GET")) == TokenEstimate(0, 0)


def test_any_object_with_estimate_is_an_estimator():
    class Fixed:
        def estimate(self, request):
            return 7

    assert isinstance(Fixed(), TokenEstimator)
    assert isinstance(CharacterEstimator(), TokenEstimator)


# -- construction -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -5, "60", True])
def test_rate_limit_rejects_a_limit_that_is_not_a_positive_number(value):
    with pytest.raises(ValueError, match="requests_per_minute"):
        RateLimitMiddleware(requests_per_minute=value)


def test_rate_limit_with_nothing_to_enforce_is_refused():
    with pytest.raises(ValueError, match="adaptive"):
        RateLimitMiddleware(adaptive=False)


def test_rate_limit_builds_one_request_bucket_evenly_spaced_by_default():
    middleware = RateLimitMiddleware(requests_per_minute=120, tokens_per_minute=6000)
    assert middleware.limits == Limits(Bucket(rate=2, capacity=1), Bucket(rate=100, capacity=100))


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_concurrency_limit_needs_a_positive_integer(value):
    with pytest.raises(ValueError, match="max_in_flight"):
        ConcurrencyLimitMiddleware(value)
