"""Rate and concurrency limits end to end: AsyncLLM over loopback to the
bundled server, timings measured where the calls arrive; Redis is a real
redis-server, shared by clients, by limiters and by separate processes."""

import asyncio
import gc
import itertools
import sys
import time
import warnings
from pathlib import Path

import attrs
import pytest
import redis.asyncio

from llmpipe import AsyncLLM, BadRequestError, LLMTimeoutError, RateLimitError
from llmpipe.middleware import RetryMiddleware, default_middlewares
from llmpipe.middleware.concurrency import ConcurrencyLimitMiddleware
from llmpipe.middleware.ratelimit import Bucket, Limits, LocalLimiter, RedisLimiter
from llmpipe.middleware.ratelimit.middleware import RateLimitMiddleware
from llmpipe.testing import Fault

HELLO = [{"role": "user", "content": "hello"}]
HELLO_USAGE = 3  # the server counts words: "hello" in, "Echo: hello" out
JITTER = 0.03  # seconds of scheduling noise allowed between a planned and a measured gap
# How much later than planned a call may arrive on a loaded machine: bounds
# from above, never from below (the limiter's promise is "not sooner").
LATE = 0.4
ROOT = Path(__file__).resolve().parent.parent


def client_with(config, *layers):
    """A client whose default stack has ``layers`` just inside retry, in order."""
    stack = default_middlewares(config)
    anchor = RetryMiddleware
    for layer in layers:
        stack.insert_after(anchor, layer)
        anchor = type(layer)
    return AsyncLLM(config, stack)


def arrivals(server):
    return sorted(r.received_at for r in server.requests)


def gaps(times):
    return [b - a for a, b in itertools.pairwise(times)]


def assert_not_sooner_than_the_rate(started, times, interval):
    """The k-th arrival comes no sooner than k intervals after the calls began.

    That is what a limiter of one call per ``interval`` (burst 1) promises,
    and it holds under any load: a call may arrive late (its own send was
    slow), never early. A gap between two arrivals proves less: a late call
    shortens the gap after it."""
    for k, arrived in enumerate(sorted(times)):
        early = started + k * interval - arrived
        assert early <= 0.001, f"call {k} arrived {early:.3f} s sooner than the rate allows"


class InFlightProbe:
    """Counts the calls inside it at once (it sits just inside the limit)."""

    def __init__(self):
        self.now = self.most = 0

    async def __call__(self, request, call_next):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await call_next(request)
        finally:
            self.now -= 1


# -- requests and tokens per minute ------------------------------------------------


async def test_requests_per_minute_spaces_calls_evenly_at_the_server(llm_server, config):
    async with client_with(config, RateLimitMiddleware(requests_per_minute=600)) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(10)))
    times = arrivals(llm_server)
    assert len(times) == 10
    assert_not_sooner_than_the_rate(started, times, 0.1)
    assert times[-1] - started < 0.9 + LATE  # not at half the rate either


async def test_tokens_per_minute_spaces_calls_by_their_estimated_tokens(llm_server, config):
    estimate = 2 + 4 + 20  # "hello": ceil(5/4) + message overhead + max_tokens
    limit = RateLimitMiddleware(tokens_per_minute=estimate * 600, token_burst=estimate)
    async with client_with(config, limit) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO, max_tokens=20) for _ in range(6)))
    times = arrivals(llm_server)
    assert len(times) == 6
    assert_not_sooner_than_the_rate(started, times, 0.1)


async def test_reported_usage_gives_back_what_the_estimate_overcharged(config):
    backend = LocalLimiter()
    limit = RateLimitMiddleware(tokens_per_minute=60, token_burst=100, backend=backend)
    async with client_with(config, limit) as llm:
        await llm.chat_completion(HELLO, max_tokens=50)  # estimated 56, used 3
    left = await backend.available(limit.limits)
    assert left["tokens"] == pytest.approx(100 - HELLO_USAGE, abs=0.5)


async def test_a_streams_final_usage_corrects_the_estimate(config):
    backend = LocalLimiter()
    limit = RateLimitMiddleware(tokens_per_minute=60, token_burst=100, backend=backend)
    async with client_with(config, limit) as llm:
        stream = await llm.chat_completion(HELLO, max_tokens=50, stream=True)
        reply = await stream.collect()
        await limit.flush()
    assert reply.usage.total_tokens == HELLO_USAGE
    left = await backend.available(limit.limits)
    assert left["tokens"] == pytest.approx(100 - HELLO_USAGE, abs=0.5)


async def test_a_callable_estimator_returning_an_int_sets_the_charge(llm_server, config):
    limit = RateLimitMiddleware(tokens_per_minute=60_000, token_burst=100, estimator=lambda r: 100)
    async with client_with(config, limit) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(3)))
    assert_not_sooner_than_the_rate(started, arrivals(llm_server), 0.1)


async def test_calls_within_the_burst_are_not_delayed(llm_server, config):
    # One a second, but a burst of five: spaced, the five would take 4 s.
    limit = RateLimitMiddleware(requests_per_minute=60, request_burst=5)
    async with client_with(config, limit) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(5)))
    assert time.monotonic() - started < 1.0
    assert len(llm_server.requests) == 5


# -- deadlines ------------------------------------------------------------------------


async def test_a_call_that_would_wait_past_its_deadline_is_refused_at_once(llm_server, config):
    async with client_with(config, RateLimitMiddleware(requests_per_minute=60)) as llm:
        await llm.chat_completion(HELLO)
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await llm.chat_completion(HELLO, deadline=0.5)
        elapsed = time.monotonic() - started
        stats = llm.get_stats()
    assert elapsed < 0.25  # not after waiting out the deadline (0.5 s), nor the turn (1 s)
    assert caught.value.status_code == 429
    assert "client's own rate limit" in str(caught.value)
    assert caught.value.headers["x-should-retry"] == "false"
    assert (stats.attempts, len(llm_server.requests)) == (2, 1)  # no retry, nothing sent


async def test_a_refused_call_takes_nothing_from_the_bucket(llm_server, config):
    async with client_with(config, RateLimitMiddleware(requests_per_minute=120)) as llm:
        started = time.monotonic()
        await llm.chat_completion(HELLO)
        with pytest.raises(RateLimitError):
            await llm.chat_completion(HELLO, deadline=0.2)
        await llm.chat_completion(HELLO)
    times = arrivals(llm_server)
    assert_not_sooner_than_the_rate(started, times, 0.5)
    assert times[-1] - started < 0.5 + LATE  # one interval, not two


async def test_a_call_whose_deadline_allows_the_wait_waits_and_is_sent(llm_server, config):
    async with client_with(config, RateLimitMiddleware(requests_per_minute=300)) as llm:
        started = time.monotonic()
        await llm.chat_completion(HELLO)
        await llm.chat_completion(HELLO, deadline=1.0)
    times = arrivals(llm_server)
    assert len(times) == 2
    assert_not_sooner_than_the_rate(started, times, 0.2)


# -- adaptive: the server's headers ------------------------------------------------

SPENT = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "0.5s"}


async def test_when_the_server_says_no_requests_remain_the_next_call_waits_for_reset(
    llm_server, config
):
    llm_server.add_faults(Fault(headers=SPENT))
    async with client_with(config, RateLimitMiddleware()) as llm:
        await llm.chat_completion(HELLO)
        await llm.chat_completion(HELLO)
    [gap] = gaps(arrivals(llm_server))
    assert 0.5 - JITTER <= gap < 0.5 + LATE


async def test_calls_already_waiting_their_turn_also_wait_for_the_servers_reset(llm_server, config):
    llm_server.add_faults(Fault(headers=SPENT))
    async with client_with(config, RateLimitMiddleware(requests_per_minute=600)) as llm:
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(4)))
    first, *others = arrivals(llm_server)
    assert min(others) - first >= 0.5 - JITTER  # planned for 0.1, 0.2, 0.3


async def test_fewer_tokens_remaining_than_a_call_needs_hold_until_the_token_reset(
    llm_server, config
):
    llm_server.add_faults(
        Fault(headers={"x-ratelimit-remaining-tokens": "5", "x-ratelimit-reset-tokens": "300ms"})
    )
    async with client_with(config, RateLimitMiddleware()) as llm:
        await llm.chat_completion(HELLO, max_tokens=20)
        await llm.chat_completion(HELLO, max_tokens=20)
    [gap] = gaps(arrivals(llm_server))
    assert gap >= 0.3 - JITTER


async def test_adaptive_false_ignores_the_servers_headers(llm_server, config):
    llm_server.add_faults(Fault(headers=SPENT))
    limit = RateLimitMiddleware(requests_per_minute=6000, adaptive=False)
    async with client_with(config, limit) as llm:
        await llm.chat_completion(HELLO)
        await llm.chat_completion(HELLO)
    [gap] = gaps(arrivals(llm_server))
    assert gap < 0.5 - JITTER  # the reset (0.5 s) was not waited for


# -- Redis: one quota for many clients and processes ------------------------------

EVERY_100_MS = Limits(requests=Bucket(rate=10, capacity=1))
EVERY_SECOND = Limits(requests=Bucket(rate=1, capacity=1))
# Redis writes times to the microsecond, and its clock is not quite ours.
CLOCKS = 0.002


@attrs.frozen
class Span:
    """Two moments by our clock between which something happened on Redis."""

    earliest: float
    latest: float

    def plus(self, seconds):
        return Span(self.earliest + seconds, self.latest + seconds)


async def asked(call):
    """Await a limiter call: its result, and the span in which Redis read its clock."""
    before = time.monotonic()
    result = await call
    return result, Span(before, time.monotonic())


def starts(grant, span):
    """When a granted call may start, by our clock."""
    return span.plus(grant.wait)


def assert_spaced(first, second, grant, seconds):
    """The start of ``grant`` (``second``) is ``seconds`` after ``first``: never
    sooner, and no later either if it had to wait at all. Exact whatever the
    load: only how long each Redis call took widens the spans."""
    assert second.latest - first.earliest >= seconds - CLOCKS, "sooner than the rate allows"
    if grant.wait > 0:
        assert second.earliest - first.latest <= seconds + CLOCKS, "waited longer than needed"


async def test_redis_limiter_spaces_reservations_evenly(redis_url):
    async with RedisLimiter(redis_url, "spacing") as limiter:
        calls = [await asked(limiter.acquire(EVERY_100_MS, 1, 0)) for _ in range(3)]
    assert calls[0][0].wait == 0.0  # an empty key: the first call goes at once
    begins = [starts(grant, span) for grant, span in calls]
    for (grant, _), (before, begin) in zip(calls[1:], itertools.pairwise(begins), strict=True):
        assert grant.wait > 0
        assert_spaced(before, begin, grant, 0.1)


async def test_redis_limiter_refuses_a_wait_past_max_wait_and_takes_nothing(redis_url):
    async with RedisLimiter(redis_url, "refuse") as limiter:
        first, first_span = await asked(limiter.acquire(EVERY_SECOND, 1, 0))
        refused, refused_span = await asked(limiter.acquire(EVERY_SECOND, 1, 0, max_wait=0.5))
        after, after_span = await asked(limiter.acquire(EVERY_SECOND, 1, 0))
    assert first.granted
    assert not refused.granted
    begin = starts(first, first_span)
    assert_spaced(begin, starts(refused, refused_span), refused, 1.0)  # the wait it refused
    assert_spaced(begin, starts(after, after_span), after, 1.0)  # one interval, not two


async def test_redis_limiter_reconcile_and_hold_are_seen_by_another_limiter(redis_url):
    limits = Limits(requests=Bucket(rate=10, capacity=1), tokens=Bucket(rate=1, capacity=100))
    async with RedisLimiter(redis_url, "shared") as one, RedisLimiter(redis_url, "shared") as two:
        await one.acquire(limits, 1, 80)
        await one.reconcile(limits, -70)
        _, held = await asked(one.hold(0.4))
        left = await two.available(limits)
        grant, span = await asked(two.acquire(limits, 1, 0))
    assert left["tokens"] == pytest.approx(90, abs=0.5)
    assert_spaced(held, starts(grant, span), grant, 0.4)  # the hold, not the request bucket


async def test_redis_limiter_keeps_state_in_one_expiring_key_on_redis_time(redis_url):
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        before = await connection.time()
        async with RedisLimiter(connection, key="custom:key") as limiter:
            await limiter.acquire(EVERY_100_MS, 1, 0)
        after = await connection.time()
        full_at = float(await connection.hget("custom:key", "requests"))
        ttl = await connection.pttl("custom:key")
        assert await connection.ping()  # a client passed in is left open
    finally:
        await connection.aclose()
    # Full again 0.1 s after the call, by Redis's clock, read somewhere between these two.
    earliest, latest = (seconds + micros / 1e6 + 0.1 for seconds, micros in (before, after))
    assert earliest - 1e-6 <= full_at <= latest + 1e-6
    assert 59_000 < ttl <= 60_100


async def test_redis_limiter_reloads_its_scripts_after_a_script_flush(redis_url):
    async with RedisLimiter(redis_url, "flush") as limiter:
        first, first_span = await asked(limiter.acquire(EVERY_100_MS, 1, 0))
        connection = redis.asyncio.Redis.from_url(redis_url)
        await connection.script_flush()
        await connection.aclose()
        grant, span = await asked(limiter.acquire(EVERY_100_MS, 1, 0))
    assert_spaced(starts(first, first_span), starts(grant, span), grant, 0.1)


async def test_two_clients_sharing_a_redis_key_share_one_rate(llm_server, config, redis_url):
    async with RedisLimiter(redis_url, "pair") as one, RedisLimiter(redis_url, "pair") as two:
        first = client_with(config, RateLimitMiddleware(600, backend=one))
        second = client_with(config, RateLimitMiddleware(600, backend=two))
        async with first, second:
            await asyncio.gather(first.list_models(), second.list_models())  # warm pools
            llm_server.reset()
            started = time.monotonic()
            calls = [llm.chat_completion(HELLO) for llm in (first, second) for _ in range(5)]
            await asyncio.gather(*calls)
    times = arrivals(llm_server)
    assert len(times) == 10
    assert_not_sooner_than_the_rate(started, times, 0.1)
    assert times[-1] - started < 0.2 + 0.9 + LATE  # after the warm-up's turns: one rate


async def redis_clients(url):
    """The connections Redis has open, not counting the one asking."""
    probe = redis.asyncio.Redis.from_url(url)
    try:
        return len(await probe.client_list()) - 1
    finally:
        await probe.aclose()


async def test_closing_the_client_closes_the_limiters_own_redis_pool(config, redis_url):
    before = await redis_clients(redis_url)
    limiter = RedisLimiter(redis_url, "closing")
    async with client_with(config, RateLimitMiddleware(6000, backend=limiter)) as llm:
        await llm.chat_completion(HELLO)
        assert await redis_clients(redis_url) == before + 1  # the limiter's own pool
    for _ in range(200):  # Redis notices a closed socket a moment after the close
        if (after := await redis_clients(redis_url)) == before:
            break
        await asyncio.sleep(0.01)
    assert after == before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del limiter, llm
        gc.collect()  # an unclosed pool would warn here
    assert [str(w.message) for w in caught] == []


async def test_with_redis_down_calls_are_still_sent_and_limited_in_process(
    llm_server, config, unused_tcp_port
):
    limiter = RedisLimiter(f"redis://127.0.0.1:{unused_tcp_port}", "down")
    async with client_with(config, RateLimitMiddleware(600, backend=limiter)) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(3)))
    times = arrivals(llm_server)
    assert len(times) == 3
    assert_not_sooner_than_the_rate(started, times, 0.1)


def test_a_redis_limiter_serves_one_event_loop_at_a_time(redis_url):
    limiter = RedisLimiter(redis_url, "loops")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        earlier = first.run_until_complete(asked(limiter.acquire(EVERY_SECOND, 1, 0)))
        with pytest.raises(RuntimeError, match="one event loop"):
            second.run_until_complete(limiter.acquire(EVERY_SECOND, 1, 0))
        first.run_until_complete(limiter.close())
        grant, span = second.run_until_complete(asked(limiter.acquire(EVERY_SECOND, 1, 0)))
        second.run_until_complete(limiter.close())
    finally:
        first.close()
        second.close()
    assert_spaced(starts(*earlier), starts(grant, span), grant, 1.0)  # the same key, a new pool


CHILD = """
import asyncio, sys
from llmpipe import AsyncLLM, LLMConfig
from llmpipe.middleware import RetryMiddleware, default_middlewares
from llmpipe.middleware.ratelimit.middleware import RateLimitMiddleware
from llmpipe.middleware.ratelimit import RedisLimiter

async def main(base_url, redis_url, worker, calls, rpm):
    config = LLMConfig(base_url=base_url, extra_headers={"x-worker": worker})
    async with RedisLimiter(redis_url, "processes") as backend:
        limit = RateLimitMiddleware(rpm, backend=backend)
        stack = default_middlewares(config).insert_after(RetryMiddleware, limit)
        async with AsyncLLM(config, stack) as llm:
            await llm.list_models()  # connected to both servers before the start signal
            print("ready", flush=True)
            sys.stdin.readline()
            hello = [{"role": "user", "content": "hello"}]
            await asyncio.gather(*(llm.chat_completion(hello) for _ in range(calls)))

asyncio.run(main(*sys.argv[1:4], int(sys.argv[4]), float(sys.argv[5])))
"""
RPM, CALLS_EACH = 240, 6  # 4 calls a second between them


async def test_two_processes_sharing_a_redis_key_never_exceed_the_rate(llm_server, redis_url):
    args = [llm_server.base_url, redis_url]
    workers = [
        await asyncio.create_subprocess_exec(
            *[sys.executable, "-c", CHILD, *args, name, str(CALLS_EACH), str(RPM)],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        for name in ("a", "b")
    ]
    try:
        for worker in workers:
            assert await asyncio.wait_for(worker.stdout.readline(), 30) == b"ready\n"
        llm_server.reset()  # forget the warm-up calls
        go = time.monotonic()  # no call starts before this
        outcomes = [asyncio.wait_for(w.communicate(b"go\n"), 30) for w in workers]
        for _, stderr in await asyncio.gather(*outcomes):
            assert stderr == b""
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert [w.returncode for w in workers] == [0, 0]
    requests = sorted(llm_server.requests, key=lambda r: r.received_at)
    by = [r.headers["x-worker"] for r in requests]
    assert sorted(by) == ["a"] * CALLS_EACH + ["b"] * CALLS_EACH
    assert any(x != y for x, y in itertools.pairwise(by))  # the two really interleaved
    # One bucket for both: the k-th call of either, never sooner than k turns after "go".
    assert_not_sooner_than_the_rate(go, [r.received_at for r in requests], 60 / RPM)


# -- concurrency --------------------------------------------------------------------


async def test_no_more_than_max_in_flight_calls_run_at_once(llm_server, config):
    llm_server.add_faults(*[Fault(delay=0.1)] * 10)
    probe = InFlightProbe()
    async with client_with(config, ConcurrencyLimitMiddleware(2), probe) as llm:
        started = time.monotonic()
        await asyncio.gather(*(llm.chat_completion(HELLO) for _ in range(10)))
        elapsed = time.monotonic() - started
    assert probe.most == 2
    assert len(llm_server.requests) == 10
    assert elapsed >= 5 * 0.1


async def test_a_stream_holds_its_slot_until_it_ends(llm_server, config):
    limit = ConcurrencyLimitMiddleware(1)
    async with client_with(config, limit) as llm:
        stream = await llm.chat_completion(HELLO, stream=True)
        waiting = asyncio.create_task(llm.chat_completion(HELLO))
        await asyncio.sleep(0.2)
        assert (len(llm_server.requests), limit.in_flight) == (1, 1)
        await stream.collect()
        await asyncio.wait_for(waiting, 5)
    assert len(llm_server.requests) == 2
    assert limit.in_flight == 0


async def test_a_stream_left_early_gives_its_slot_back(config):
    limit = ConcurrencyLimitMiddleware(1)
    async with client_with(config, limit) as llm:
        stream = await llm.chat_completion(HELLO, stream=True)
        async with stream:
            async for _ in stream:
                break
        assert limit.in_flight == 0
        await asyncio.wait_for(llm.chat_completion(HELLO), 5)


async def test_a_stream_dropped_unread_gives_its_slot_back_once_collected(config):
    limit = ConcurrencyLimitMiddleware(1)
    async with client_with(config, limit) as llm:
        stream = await llm.chat_completion(HELLO, stream=True)
        del stream
        gc.collect()
        await asyncio.sleep(0)  # the release is handed to the loop
        assert limit.in_flight == 0
        await asyncio.wait_for(llm.chat_completion(HELLO), 5)


async def test_a_failed_call_gives_its_slot_back(llm_server, config):
    llm_server.add_faults(Fault(status=400))
    limit = ConcurrencyLimitMiddleware(1)
    async with client_with(config, limit) as llm:
        with pytest.raises(BadRequestError):
            await llm.chat_completion(HELLO)
        assert limit.in_flight == 0
        await asyncio.wait_for(llm.chat_completion(HELLO), 5)


async def test_a_call_still_waiting_for_a_slot_at_its_deadline_times_out_unsent(llm_server, config):
    llm_server.add_faults(Fault(delay=0.6))
    async with client_with(config, ConcurrencyLimitMiddleware(1)) as llm:
        slow = asyncio.create_task(llm.chat_completion(HELLO))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError, match="concurrency slots"):
            await llm.chat_completion(HELLO, deadline=0.2)
        elapsed = time.monotonic() - started
        await slow
    assert 0.2 - JITTER <= elapsed < 0.2 + LATE
    assert len(llm_server.requests) == 1
