"""The routing parts on their own: load estimate, balancers, breaker, failure
classes, hedging's window and budget, the adaptive limits, deployments."""

from __future__ import annotations

import collections
import random

import attrs
import pytest

from llmpipe import LLMConfig
from llmpipe.errors import InternalServerError, LLMConnectionError, LLMResponseError
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.routing import (
    Aimd,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    Deployment,
    Failure,
    Fallbacks,
    Gradient,
    Hedging,
    PowerOfTwoChoices,
    RoundRobin,
    Router,
    WeightedRandom,
)
from llmpipe.routing.fallback import classify_error, classify_reply, classify_status
from llmpipe.routing.hedge import Hedger, LatencyWindow
from llmpipe.routing.load import PeakEwma, Prior
from llmpipe.transport import MockTransport

# -- peak-EWMA --------------------------------------------------------------


def test_peak_ewma_first_sample_replaces_the_prior():
    load = PeakEwma(Prior(5.0))
    load.observe(0.2, now=1.0)
    assert load.estimate(1.0) == 0.2


def test_an_unmeasured_deployment_reads_what_its_siblings_took_lately():
    prior = Prior()
    measured, new = PeakEwma(prior), PeakEwma(prior)
    measured.observe(0.7, now=0.0)
    assert new.estimate(5.0) == 0.7


def test_peak_ewma_jumps_at_once_to_a_slower_sample():
    load = PeakEwma()
    load.observe(0.1, now=0.0)
    load.observe(2.0, now=0.001)
    assert load.estimate(0.001) == 2.0


def test_peak_ewma_moves_toward_a_faster_sample_by_the_time_elapsed():
    load = PeakEwma(decay=10.0)
    load.observe(1.0, now=0.0)
    load.observe(0.0, now=10.0)  # one decay period later: e^-1 of the old weight is left
    assert load.estimate(10.0) == pytest.approx(0.3679 * 0.3679, rel=1e-3)


def test_peak_ewma_decays_while_nothing_is_observed():
    load = PeakEwma(decay=10.0)
    load.observe(1.0, now=0.0)
    assert load.estimate(20.0) == pytest.approx(0.1353, rel=1e-3)


# -- balancers ----------------------------------------------------------------


@attrs.define
class Spot:
    name: str
    latency: float = 0.1
    in_flight: int = 0
    weight: float = 1.0
    load: PeakEwma = attrs.field(init=False)

    def __attrs_post_init__(self):
        self.load = PeakEwma()
        self.load.observe(self.latency, now=0.0)


def test_p2c_between_two_picks_the_one_with_fewer_outstanding():
    busy, idle = Spot("busy", in_flight=5), Spot("idle", in_flight=0)
    balancer = PowerOfTwoChoices(random.Random(1))
    assert {balancer.choose([busy, idle], 0.0).name for _ in range(50)} == {"idle"}


def test_p2c_between_two_picks_the_faster_at_equal_load():
    slow, fast = Spot("slow", latency=0.3), Spot("fast", latency=0.1)
    balancer = PowerOfTwoChoices(random.Random(1))
    assert {balancer.choose([slow, fast], 0.0).name for _ in range(50)} == {"fast"}


def test_p2c_weight_divides_the_cost():
    heavy = Spot("heavy", latency=0.1, in_flight=3, weight=8.0)
    light = Spot("light", latency=0.1, in_flight=0, weight=1.0)
    balancer = PowerOfTwoChoices(random.Random(1))
    assert balancer.choose([heavy, light], 0.0).name == "heavy"


def test_p2c_never_sends_to_the_costliest_of_three():
    spots = [Spot("a", 0.1), Spot("b", 0.1), Spot("worst", 1.0)]
    balancer = PowerOfTwoChoices(random.Random(7))
    chosen = collections.Counter(balancer.choose(spots, 0.0).name for _ in range(300))
    assert chosen["worst"] == 0
    assert min(chosen["a"], chosen["b"]) > 50


def test_round_robin_takes_each_in_turn():
    spots = [Spot("a"), Spot("b"), Spot("c")]
    balancer = RoundRobin()
    names = [balancer.choose(spots, 0.0).name for _ in range(6)]
    assert sorted(names[:3]) == ["a", "b", "c"]
    assert names[3:] == names[:3]


def test_weighted_random_follows_the_weights():
    spots = [Spot("one", weight=1.0), Spot("three", weight=3.0)]
    balancer = WeightedRandom(random.Random(3))
    chosen = collections.Counter(balancer.choose(spots, 0.0).name for _ in range(4000))
    assert 0.7 < chosen["three"] / 4000 < 0.8


# -- the breaker ----------------------------------------------------------------


def breaker(**policy):
    return CircuitBreaker(BreakerPolicy(**{"failures": 3, "cooldown": 5.0, **policy}))


def test_breaker_opens_after_the_configured_failures_in_a_row():
    b = breaker()
    assert [b.failure(0.0), b.failure(0.0), b.failure(0.0)] == [False, False, True]
    assert (b.state, b.available(1.0)) == (BreakerState.OPEN, False)


def test_breaker_success_resets_the_count_of_failures():
    b = breaker()
    b.failure(0.0)
    b.failure(0.0)
    b.success()
    b.failure(0.0)
    assert b.state is BreakerState.CLOSED


def test_breaker_lets_one_probe_through_after_the_cooldown():
    b = breaker()
    for _ in range(3):
        b.failure(0.0)
    assert b.available(5.0)
    assert b.admit(5.0) is True
    assert (b.state, b.available(5.1)) == (BreakerState.HALF_OPEN, False)


def test_breaker_probe_success_closes_it():
    b = breaker()
    for _ in range(3):
        b.failure(0.0)
    b.admit(6.0)
    assert b.success() is True
    assert b.state is BreakerState.CLOSED


def test_breaker_probe_failure_opens_it_for_another_cooldown():
    b = breaker()
    for _ in range(3):
        b.failure(0.0)
    b.admit(6.0)
    assert b.failure(6.0) is True
    assert b.open_until == 11.0


def test_breaker_retry_after_opens_at_once_for_that_long():
    b = breaker()
    assert b.failure(0.0, retry_after=30.0) is True
    assert b.open_until == 30.0


def test_breaker_retry_after_is_capped_by_max_cooldown():
    b = breaker(max_cooldown=60.0)
    b.failure(0.0, retry_after=3600.0)
    assert b.open_until == 60.0


def test_breaker_short_retry_after_counts_as_one_failure_only():
    b = breaker(min_retry_after=1.0)
    assert b.failure(0.0, retry_after=0.1) is False
    assert (b.state, b.failures) == (BreakerState.CLOSED, 1)


def test_breaker_abandoned_probe_lets_the_next_request_probe():
    b = breaker()
    for _ in range(3):
        b.failure(0.0)
    b.admit(6.0)
    b.abandon(6.5)
    assert b.probing(6.5)


@pytest.mark.parametrize(
    "policy",
    [{"failures": 0}, {"cooldown": 0}, {"cooldown": -1.0}, {"max_cooldown": "5"}],
)
def test_breaker_policy_rejects_bad_settings(policy):
    with pytest.raises(ValueError, match="BreakerPolicy"):
        BreakerPolicy(**policy)


# -- failure classes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (429, {}, Failure.RATE_LIMITED),
        (500, {}, Failure.SERVER),
        (503, "<html>busy</html>", Failure.SERVER),
        (408, {}, Failure.SERVER),
        (
            400,
            {"error": {"code": "context_length_exceeded", "message": "x"}},
            Failure.CONTEXT_LENGTH,
        ),
        (
            400,
            {"object": "error", "message": "This model's maximum context length is 4096 tokens."},
            Failure.CONTEXT_LENGTH,
        ),
        (
            400,
            {"error": {"type": "exceed_context_size_error", "message": "too big"}},
            Failure.CONTEXT_LENGTH,
        ),
        (400, {"error": {"code": "content_filter", "message": "filtered"}}, Failure.CONTENT_FILTER),
        (
            400,
            {"error": {"message": "x", "innererror": {"code": "ResponsibleAIPolicyViolation"}}},
            Failure.CONTENT_FILTER,
        ),
        (400, {"error": {"message": "bad temperature"}}, Failure.CLIENT),
        (401, {}, Failure.CLIENT),
        (404, {}, Failure.CLIENT),
    ],
)
def test_a_failed_reply_is_classed_by_its_status_and_body(status, body, failure):
    assert classify_status(status, body) is failure


def test_only_deployment_failures_send_a_call_to_another_deployment():
    assert {f for f in Failure if f.deployment_at_fault} == {
        Failure.CONNECTION,
        Failure.SERVER,
        Failure.RATE_LIMITED,
    }


def filtered_reply(reason):
    request = LLMRequest("chat/completions", body={"model": "m"})
    return LLMResponse.from_json(
        request, {"choices": [{"index": 0, "finish_reason": reason, "message": {}}]}
    )


def test_a_200_ended_by_the_content_filter_is_a_failure_when_asked():
    assert classify_reply(filtered_reply("content_filter"), filtered_choices=True) is (
        Failure.CONTENT_FILTER
    )


def test_a_200_ended_by_the_content_filter_passes_when_not_asked():
    assert classify_reply(filtered_reply("content_filter")) is None


def test_a_200_that_stopped_normally_is_no_failure():
    assert classify_reply(filtered_reply("stop"), filtered_choices=True) is None


def test_raised_errors_are_classed():
    assert classify_error(LLMConnectionError("refused")) is Failure.CONNECTION
    assert classify_error(InternalServerError("x", status_code=500)) is Failure.SERVER
    assert classify_error(LLMResponseError("garbled")) is Failure.OTHER


def test_fallbacks_name_the_alias_for_each_request_failure():
    fallbacks = Fallbacks(context_window={"small": "large"}, content_filter={"small": "other"})
    assert fallbacks.alias_after("small", Failure.CONTEXT_LENGTH) == "large"
    assert fallbacks.alias_after("small", Failure.CONTENT_FILTER) == "other"
    assert fallbacks.alias_after("small", Failure.CLIENT) is None
    assert fallbacks.alias_after("large", Failure.CONTEXT_LENGTH) is None


def test_fallbacks_refuse_an_alias_pointing_at_itself():
    with pytest.raises(ValueError, match="another alias"):
        Fallbacks(context_window={"a": "a"})


# -- hedging ----------------------------------------------------------------


def test_latency_window_gives_the_nearest_rank_percentile():
    window = LatencyWindow(100, 0.9)
    for value in range(1, 101):
        window.add(float(value))
    assert window.value() == 90.0


def test_latency_window_keeps_only_the_last_samples():
    window = LatencyWindow(10, 0.5)
    for value in [100.0] * 10 + [1.0] * 10:
        window.add(value)
    assert window.value() == 1.0


def test_hedger_waits_for_enough_samples_before_hedging():
    hedger = Hedger(Hedging(min_samples=5))
    for _ in range(4):
        hedger.observe(False, 0.1)
    assert hedger.delay(False) is None
    hedger.observe(False, 0.1)
    assert hedger.delay(False) == 0.1


def test_hedger_keeps_stream_and_plain_latencies_apart():
    hedger = Hedger(Hedging(min_samples=1))
    hedger.observe(True, 0.5)
    assert (hedger.delay(True), hedger.delay(False)) == (0.5, None)


def test_hedger_fixed_delay_needs_no_samples():
    assert Hedger(Hedging(delay=0.2)).delay(False) == 0.2


def test_hedger_leaves_streams_alone_when_told_to():
    assert Hedger(Hedging(delay=0.2, streams=False)).delay(True) is None


def test_hedge_budget_allows_the_share_of_calls_plus_the_floor():
    hedger = Hedger(Hedging(max_extra=0.1, min_per_second=0.0))
    for _ in range(100):
        hedger.budget.deposit()
    granted = sum(hedger.budget.withdraw() for _ in range(50))
    assert granted == 10


@pytest.mark.parametrize("settings", [{"percentile": 1.0}, {"max_extra": 0}, {"delay": -1}])
def test_hedging_rejects_bad_settings(settings):
    with pytest.raises(ValueError, match="Hedging"):
        Hedging(**settings)


# -- adaptive limits ----------------------------------------------------------


def test_aimd_grows_by_about_one_per_limits_worth_of_good_replies():
    limit = Aimd(initial=10).start()
    for _ in range(10):
        limit.update(0.1, in_flight=10, dropped=False)
    assert limit.limit == 10 or limit.limit == 11
    for _ in range(12):
        limit.update(0.1, in_flight=10, dropped=False)
    assert limit.limit >= 11


def test_aimd_does_not_grow_while_the_limit_is_not_in_use():
    limit = Aimd(initial=10).start()
    for _ in range(100):
        limit.update(0.1, in_flight=2, dropped=False)
    assert limit.limit == 10


def test_aimd_backs_off_on_a_drop():
    limit = Aimd(initial=20, backoff=0.5).start()
    limit.update(0.1, in_flight=20, dropped=True)
    assert limit.limit == 10


def test_aimd_ignores_a_drop_sent_before_the_last_decrease():
    limit = Aimd(initial=20, backoff=0.5).start()
    limit.update(0.1, in_flight=20, dropped=True)
    limit.update(0.1, in_flight=19, dropped=True)
    assert limit.limit == 10


def test_aimd_holds_below_the_ceiling_a_drop_found_then_probes_above_it():
    limit = Aimd(initial=17, backoff=0.9, probe_after=50).start()
    limit.update(0.1, in_flight=17, dropped=True)
    seen = []
    for _ in range(100):
        limit.update(0.1, in_flight=16, dropped=False)
        seen.append(limit.limit)
    assert seen[0] == 15
    assert seen[20:75] == [16] * 55  # below the ceiling of 17, for probe_after replies
    assert seen[-1] >= 17


def test_aimd_reply_slower_than_its_timeout_is_a_drop():
    limit = Aimd(initial=20, backoff=0.5, timeout=1.0).start()
    limit.update(2.0, in_flight=20, dropped=False)
    assert limit.limit == 10


def test_a_limit_is_capped_while_the_server_says_few_requests_remain():
    limit = Aimd(initial=20).start()
    limit.read_headers({"x-ratelimit-remaining-requests": "3"}, 0.1)
    assert limit.limit == 3


@pytest.mark.parametrize("policy", [Aimd(initial=8), Gradient(initial=8)], ids=["aimd", "gradient"])
def test_a_limit_is_seeded_by_the_request_rate_times_the_latency(policy):
    limit = policy.start()
    limit.read_headers({"x-ratelimit-limit-requests": "600"}, 3.0)  # 10/s (per minute)
    assert limit.limit == 30


def test_the_seeds_window_is_what_the_reset_implies():
    limit = Aimd(initial=8).start()
    headers = {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "99",
        "x-ratelimit-reset-requests": "100ms",  # 1 request refills in 0.1 s: 100 in 10 s
    }
    limit.read_headers(headers, 1.0)
    assert limit.limit == 10


def test_the_seed_rounds_up_and_stays_within_the_bounds():
    low, high = Aimd(initial=8).start(), Aimd(initial=8, max_limit=50).start()
    low.read_headers({"x-ratelimit-limit-requests": "60"}, 0.01)
    high.read_headers({"x-ratelimit-limit-requests": "6000000"}, 1.0)
    assert (low.limit, high.limit) == (1, 50)


def test_a_limit_is_seeded_once():
    limit = Aimd(initial=8).start()
    limit.read_headers({"x-ratelimit-limit-requests": "600"}, 3.0)
    limit.read_headers({"x-ratelimit-limit-requests": "600"}, 1.0)
    assert limit.limit == 30


def test_an_unreadable_request_limit_does_not_seed():
    limit = Aimd(initial=8).start()
    limit.read_headers({"x-ratelimit-limit-requests": "lots"}, 3.0)
    limit.read_headers({"x-ratelimit-limit-requests": "600"}, 1.0)
    assert limit.limit == 10


def test_gradient_shrinks_when_latency_rises():
    limit = Gradient(initial=50).start()
    for _ in range(20):
        limit.update(0.1, in_flight=50, dropped=False)
    before = limit.limit
    for _ in range(20):
        limit.update(1.0, in_flight=50, dropped=False)
    assert limit.limit < before / 2


def test_gradient_grows_while_latency_holds_up_to_twice_the_use():
    limit = Gradient(initial=10).start()
    for _ in range(50):
        limit.update(0.1, in_flight=10, dropped=False)
    assert limit.limit == 20  # twice what is in use, and no further


@pytest.mark.parametrize(
    "settings", [{"initial": 0}, {"min_limit": 5, "initial": 4}, {"backoff": 1.5}]
)
def test_limits_reject_bad_settings(settings):
    with pytest.raises(ValueError, match=r"limit|backoff"):
        Aimd(**settings)


# -- deployments and the router's construction ---------------------------------


def test_a_deployment_needs_a_base_url():
    with pytest.raises(ValueError, match="base_url"):
        Deployment(model="gpt-4")


@pytest.mark.parametrize("weight", [0, -1, "2", True])
def test_a_deployment_refuses_a_weight_that_is_not_positive(weight):
    with pytest.raises(ValueError, match="weight"):
        Deployment(base_url="http://127.0.0.1:1", weight=weight)


def test_a_deployment_repr_masks_its_api_key():
    text = repr(Deployment(base_url="http://127.0.0.1:1", api_key="sk-secret-123"))
    assert "sk-secret-123" not in text
    assert "'***'" in text


def test_a_deployment_config_overrides_the_clients():
    template = LLMConfig(timeout=30, extra_headers={"X-A": "1"})
    deployment = Deployment(
        base_url="http://10.0.0.1:8000",
        api_key="k",
        model="llama",
        timeout=5,
        extra_headers={"X-B": "2"},
    )
    config = deployment.config(template)
    assert (config.base_url, config.api_key, config.model, config.timeout) == (
        "http://10.0.0.1:8000",
        "k",
        "llama",
        5,
    )
    assert config.extra_headers == {"X-A": "1", "X-B": "2"}


def mock(name="m"):
    return Deployment(transport=MockTransport(lambda r: None, origin=f"mock://{name}"))


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        ({}, "mapping of alias"),
        ({"chat": []}, "at least one Deployment"),
        ({"chat": ["http://x"]}, "not a Deployment"),
    ],
)
def test_router_refuses_a_bad_set_of_deployments(deployments, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Router(deployments)


def test_router_refuses_fallbacks_to_an_alias_it_does_not_have():
    with pytest.raises(ValueError, match="does not have"):
        Router({"chat": [mock()]}, fallbacks=Fallbacks(context_window={"chat": "long"}))


def test_router_refuses_two_deployments_of_one_name():
    one = Deployment(name="a", transport=MockTransport(lambda r: None))
    with pytest.raises(ValueError, match="unique"):
        Router({"chat": [one], "other": [one]})
