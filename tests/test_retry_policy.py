"""ExponentialBackoff as a pure object: delay or None."""

import email.utils

import pytest

from llmpipe import (
    BadRequestError,
    ExponentialBackoff,
    InternalServerError,
    LLMConnectionError,
    LLMRequest,
    LLMResponseError,
    LLMTimeoutError,
    NotRetried,
    RateLimitError,
    parse_retry_after,
)

REQUEST = LLMRequest("chat/completions")


def server_error(status=503, **headers):
    return InternalServerError("boom", status_code=status, headers=headers)


def test_spec_schedule_for_base_two_seconds_is_2_4_8_16_32():
    policy = ExponentialBackoff(max_retries=5, base_delay=2.0, max_delay=100)
    delays = [policy.retry_delay(REQUEST, server_error(), n) for n in range(6)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, None]


def test_each_delay_is_capped_at_max_delay():
    policy = ExponentialBackoff(max_retries=10, base_delay=1.0, max_delay=5.0)
    assert policy.retry_delay(REQUEST, server_error(), 6) == 5.0


@pytest.mark.parametrize(
    "status", [408, 409, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529]
)
def test_retryable_statuses_are_retried(status):
    error = (RateLimitError if status == 429 else InternalServerError)(
        "x", status_code=status, headers={}
    )
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) == 1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 501])
def test_other_statuses_are_never_retried(status):
    error = BadRequestError("x", status_code=status, headers={})
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) is None


def test_connection_errors_and_timeouts_are_retried():
    policy = ExponentialBackoff()
    assert policy.retry_delay(REQUEST, LLMConnectionError("refused"), 0) == 1.0
    assert policy.retry_delay(REQUEST, LLMTimeoutError("slow"), 1) == 2.0


def test_malformed_replies_are_not_retried():
    assert ExponentialBackoff().retry_delay(REQUEST, LLMResponseError("bad"), 0) is None


def test_retry_after_seconds_replaces_the_backoff():
    error = server_error(429, **{"retry-after": "3"})
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) == 3.0


def test_retry_after_ms_wins_over_retry_after():
    error = server_error(429, **{"retry-after": "3", "retry-after-ms": "250"})
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) == 0.25


def test_a_retry_after_beyond_the_cap_is_not_retried_early_and_says_the_wait():
    error = server_error(429, **{"retry-after": "3600"})
    decision = ExponentialBackoff(max_delay=7).retry_delay(REQUEST, error, 0)
    assert decision == NotRetried(
        "the server asked to wait 3600 s, longer than the 7 s cap (max_retry_delay); "
        "give the call a deadline to wait that long"
    )


def test_a_retry_after_beyond_the_cap_is_waited_in_full_when_the_call_has_a_deadline():
    request = LLMRequest("chat/completions", options={"deadline_at": 1e9})
    error = server_error(429, **{"retry-after": "90"})
    assert ExponentialBackoff(max_delay=60).retry_delay(request, error, 0) == 90.0


def test_litellm_provider_retry_after_is_read_when_the_standard_one_is_absent():
    """LiteLLM's proxy forwards its upstream's hint only as ``llm_provider-retry-after``."""
    assert parse_retry_after({"llm_provider-retry-after": "4"}) == 4.0


def test_litellm_provider_retry_after_ms_is_read_first():
    headers = {"llm_provider-retry-after": "4", "llm_provider-retry-after-ms": "1500"}
    assert parse_retry_after(headers) == 1.5


def test_the_standard_retry_after_wins_over_litellm_provider_headers():
    headers = {"retry-after": "2", "llm_provider-retry-after": "60"}
    assert parse_retry_after(headers) == 2.0


def test_retry_after_http_date_is_seconds_from_now():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 5, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == pytest.approx(5.0)


def test_retry_after_date_in_the_past_means_no_wait():
    header = email.utils.formatdate(1_000_000_000, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=1_700_000_000) == 0.0


def test_unparseable_retry_after_is_ignored():
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert ExponentialBackoff().retry_delay(REQUEST, server_error(**{"retry-after": "?"}), 0) == 1.0


def test_x_should_retry_false_stops_a_retryable_status():
    error = server_error(503, **{"x-should-retry": "false"})
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) is None


def test_x_should_retry_true_retries_an_otherwise_final_status():
    error = BadRequestError("x", status_code=400, headers={"x-should-retry": "true"})
    assert ExponentialBackoff().retry_delay(REQUEST, error, 0) == 1.0


def test_per_call_max_retries_overrides_the_policy():
    request = LLMRequest("chat/completions", options={"max_retries": 1})
    policy = ExponentialBackoff(max_retries=5)
    assert policy.retry_delay(request, server_error(), 0) == 1.0
    assert policy.retry_delay(request, server_error(), 1) is None


def test_jitter_only_shortens_delays_within_its_fraction():
    policy = ExponentialBackoff(base_delay=1.0, jitter=0.5, max_retries=100)
    delays = [policy.retry_delay(REQUEST, server_error(), 2) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1
