"""CacheMiddleware end to end: AsyncLLM, the bundled server over loopback, real Redis."""

import asyncio
import json
import re
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import attrs
import pytest
import redis.asyncio

import llmpipe
from llmpipe import (
    AsyncLLM,
    BadRequestError,
    ChatStream,
    CountingMiddleware,
    LLMRequest,
    LLMResponseError,
    ServerSentEvent,
    SSEDecoder,
    StreamTruncatedError,
    default_middlewares,
)
from llmpipe.middleware.cache import MemoryCache, RedisCache, SQLiteCache, cache_key
from llmpipe.middleware.cache.entry import CachedReply
from llmpipe.middleware.cache.middleware import CacheMiddleware
from llmpipe.middleware.cache.replay import sse_body
from llmpipe.testing import Fault

ROOT = Path(__file__).resolve().parents[1]
QUESTION = [{"role": "user", "content": "what is the capital of France"}]
ANSWER = "Echo: what is the capital of France"
KEY = "sk-cache-test-0123456789abcdef"
# The request the client sends for ask(client, temperature=0) with the default config.
SENT = LLMRequest(
    "chat/completions", body={"model": "gpt-4", "messages": QUESTION, "temperature": 0}
)


@pytest.fixture
async def make_client(config):
    """Build clients with a CacheMiddleware just inside counting; close all after."""
    made = []

    def make(cache, client_config=None):
        chosen = client_config or config
        stack = default_middlewares(chosen).insert_after(CountingMiddleware, cache)
        client = AsyncLLM(chosen, stack)
        made.append((client, cache))
        return client

    yield make
    for client, cache in made:
        await client.close()
        await cache.close()


@pytest.fixture
def log_lines():
    lines = []
    llmpipe.enable_logging("INFO", sink=lines.append)
    yield lines
    llmpipe.disable_logging()


async def ask(client, **kwargs):
    reply = await client.chat_completion(QUESTION, **kwargs)
    return reply.choices[0].message.content


async def stream_text(client, **kwargs):
    stream = await client.chat_completion(QUESTION, stream=True, **kwargs)
    assert isinstance(stream, ChatStream)
    reply = await stream.collect()
    return reply.choices[0].message.content


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- policy -----------------------------------------------------------------------


async def test_a_deterministic_call_is_answered_from_the_cache(llm_server, make_client):
    client = make_client(CacheMiddleware())
    first = await client.chat_completion(QUESTION, temperature=0)
    second = await client.chat_completion(QUESTION, temperature=0)
    assert second == first
    assert len(llm_server.requests) == 1


async def test_a_call_with_a_seed_is_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    assert await ask(client, temperature=0.9, seed=7) == ANSWER
    assert await ask(client, temperature=0.9, seed=7) == ANSWER
    assert len(llm_server.requests) == 1


async def test_a_sampled_call_is_not_cached_by_default(llm_server, make_client):
    client = make_client(CacheMiddleware())
    await ask(client, temperature=0.7)
    await ask(client, temperature=0.7)
    assert len(llm_server.requests) == 2


async def test_cache_true_caches_a_sampled_call(llm_server, make_client):
    client = make_client(CacheMiddleware())
    assert await ask(client, temperature=0.7, cache=True) == ANSWER
    assert await ask(client, temperature=0.7, cache=True) == ANSWER
    assert len(llm_server.requests) == 1


async def test_cache_false_neither_reads_nor_stores(llm_server, make_client):
    client = make_client(CacheMiddleware())
    await ask(client, temperature=0, cache=False)
    await ask(client, temperature=0)  # nothing was stored: a miss
    await ask(client, temperature=0, cache=False)  # stored now, but not read
    assert len(llm_server.requests) == 3


async def test_the_cache_option_is_not_sent_to_the_server(llm_server, make_client):
    client = make_client(CacheMiddleware())
    await ask(client, temperature=0.7, cache=True)
    assert "cache" not in llm_server.requests[0].json


async def test_embeddings_are_cached_by_default(llm_server, make_client):
    client = make_client(CacheMiddleware())
    first = await client.embeddings("a sentence")
    second = await client.embeddings("a sentence")
    assert second == first
    assert len(llm_server.requests) == 1


# --- what is never cached ---------------------------------------------------------


async def test_an_error_reply_is_not_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(status=400))
    with pytest.raises(BadRequestError):
        await ask(client, temperature=0)
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


async def test_a_2xx_reply_that_is_not_json_is_not_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(body="<html>maintenance</html>"))
    with pytest.raises(LLMResponseError):
        await ask(client, temperature=0)
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


async def test_a_2xx_reply_carrying_an_error_object_is_not_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(body={"error": {"message": "busy"}}))
    with pytest.raises(LLMResponseError):
        await ask(client, temperature=0)
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


async def test_a_json_reply_without_choices_is_not_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(body={"unexpected": "shape"}))
    with pytest.raises(LLMResponseError):
        await ask(client, temperature=0)
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


# --- stats, context, logs ---------------------------------------------------------


async def test_stats_count_hits_and_misses(make_client):
    client = make_client(CacheMiddleware())
    for _ in range(3):
        await ask(client, temperature=0)
    await ask(client, temperature=0.7)  # not cacheable: neither a hit nor a miss
    stats = client.get_stats()
    assert (stats.requests, stats.cache_hits, stats.cache_misses) == (4, 2, 1)


async def test_outside_counting_only_server_calls_are_counted(config):
    cache = CacheMiddleware()
    stack = default_middlewares(config).insert_before(CountingMiddleware, cache)
    async with AsyncLLM(config, stack) as client:
        await ask(client, temperature=0)
        await ask(client, temperature=0)
        stats = client.get_stats()
    assert (stats.requests, stats.cache_hits, stats.cache_misses) == (1, 0, 1)


async def test_a_hit_is_marked_in_the_request_context(config):
    seen = []

    async def spy(request, call_next):
        response = await call_next(request)
        seen.append(request.context.cache)
        return response

    stack = default_middlewares(config).insert_after(CountingMiddleware, CacheMiddleware())
    stack.insert_after(CountingMiddleware, spy)  # outside the cache: sees hits too
    async with AsyncLLM(config, stack) as client:
        await ask(client, temperature=0)
        await ask(client, temperature=0)
    assert seen == ["miss", "hit"]


async def test_a_hit_is_logged_at_info_without_the_prompt(make_client, log_lines):
    client = make_client(CacheMiddleware())
    await ask(client, temperature=0)
    await ask(client, temperature=0)
    [hit] = [line for line in log_lines if "cache hit" in line]
    assert "INFO" in hit
    assert "chat/completions" in hit
    assert "model=gpt-4" in hit
    assert "capital" not in "".join(log_lines)


# --- single-flight ----------------------------------------------------------------


async def test_concurrent_identical_calls_make_one_server_call(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(delay=0.1))
    replies = await asyncio.gather(*(ask(client, temperature=0) for _ in range(10)))
    assert replies == [ANSWER] * 10
    assert len(llm_server.requests) == 1
    stats = client.get_stats()
    assert (stats.cache_hits, stats.cache_misses) == (9, 1)


async def test_waiters_make_their_own_calls_when_the_leader_fails(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(status=400, delay=0.1))
    results = await asyncio.gather(
        *(ask(client, temperature=0) for _ in range(10)), return_exceptions=True
    )
    assert isinstance(results[0], BadRequestError)
    assert results[1:] == [ANSWER] * 9
    assert len(llm_server.requests) == 10


async def until(condition, within=5.0):
    """Poll ``condition`` on the loop until it holds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {condition}")
        await asyncio.sleep(0.005)


async def test_a_cancelled_waiter_does_not_cancel_the_others(llm_server, config):
    arrived = []

    async def arrivals(request, call_next):  # just outside the cache
        arrived.append(request)
        return await call_next(request)

    stack = default_middlewares(config).insert_after(CountingMiddleware, CacheMiddleware())
    stack.insert_after(CountingMiddleware, arrivals)
    llm_server.add_faults(Fault(delay=0.5))
    async with AsyncLLM(config, stack) as client:
        leader = asyncio.create_task(ask(client, temperature=0))
        await until(lambda: len(llm_server.requests) == 1)  # the leader's flight is open
        quitter = asyncio.create_task(ask(client, temperature=0))
        stayer = asyncio.create_task(ask(client, temperature=0))
        # From the layer outside the cache to waiting on the flight nothing
        # awaits, so a call seen here has joined the leader.
        await until(lambda: len(arrived) == 3)
        quitter.cancel()
        assert await stayer == await leader == ANSWER
        assert quitter.cancelled()
        assert not leader.cancelled()
        stats = client.get_stats()
    assert len(llm_server.requests) == 1
    assert (stats.cache_hits, stats.cache_misses) == (1, 1)  # the stayer's hit


# --- streams ----------------------------------------------------------------------


async def test_a_completed_stream_is_replayed_as_a_stream(llm_server, make_client):
    cache = CacheMiddleware()
    client = make_client(cache)
    live = await stream_text(client, temperature=0)
    replayed = await stream_text(client, temperature=0)
    assert replayed == live == ANSWER
    assert len(llm_server.requests) == 1
    assert client.get_stats().cache_hits == 1


async def test_a_replayed_stream_yields_the_same_chunks_and_usage(make_client):
    client = make_client(CacheMiddleware())

    async def chunks():
        stream = await client.chat_completion(QUESTION, stream=True, temperature=0)
        return [chunk async for chunk in stream], stream.response

    live_chunks, live_reply = await chunks()
    replayed_chunks, replayed_reply = await chunks()
    assert replayed_chunks == live_chunks
    assert replayed_reply == live_reply
    assert replayed_reply.usage.total_tokens == 6 + 7  # words in, words out


async def test_a_stream_and_a_plain_call_are_cached_apart(llm_server, make_client):
    client = make_client(CacheMiddleware())
    await stream_text(client, temperature=0)
    await ask(client, temperature=0)
    assert len(llm_server.requests) == 2


async def test_a_stream_broken_off_by_the_server_is_not_cached(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(drop_after_events=2))
    with pytest.raises(StreamTruncatedError):
        await stream_text(client, temperature=0)
    assert await stream_text(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


async def test_a_stream_left_early_by_the_caller_is_not_cached(llm_server, make_client):
    cache = CacheMiddleware()
    client = make_client(cache)
    stream = await client.chat_completion(QUESTION, stream=True, temperature=0)
    async with stream:
        async for _chunk in stream:
            break
    await cache.flush()
    assert await stream_text(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


def test_recorded_events_decode_back_to_the_same_events_then_done():
    events = [
        ServerSentEvent(b'{"a": 1}'),
        ServerSentEvent(b'{\n  "b": 2\n}', event="delta", id="7"),
    ]
    decoded = SSEDecoder().feed(sse_body(events))
    assert decoded == [*events, ServerSentEvent(b"[DONE]", id="7")]


async def test_a_stream_sent_with_multiline_data_replays_the_same(llm_server, make_client):
    client = make_client(CacheMiddleware())
    llm_server.add_faults(Fault(multiline_data=True, line_ending="\r\n"))
    live = await stream_text(client, temperature=0)
    assert await stream_text(client, temperature=0) == live == ANSWER
    assert len(llm_server.requests) == 1


# --- memory backend: TTL, LRU, bad entries ----------------------------------------


async def test_an_entry_expires_after_the_ttl(llm_server, make_client):
    client = make_client(CacheMiddleware(MemoryCache(), ttl=0.2))
    await ask(client, temperature=0)
    assert await ask(client, temperature=0) == ANSWER
    await asyncio.sleep(0.3)
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


async def test_the_least_recently_used_entry_is_evicted(llm_server, make_client):
    client = make_client(CacheMiddleware(MemoryCache(max_entries=2)))
    for seed in (1, 2, 1, 3):  # 1 is used again, so 3 evicts 2
        await ask(client, seed=seed)
    await ask(client, seed=1)
    assert len(llm_server.requests) == 3
    await ask(client, seed=2)
    assert len(llm_server.requests) == 4


async def test_the_stored_key_is_cache_key_of_the_body_sent(make_client):
    backend = MemoryCache()
    client = make_client(CacheMiddleware(backend, scope="body"))
    await ask(client, temperature=0)
    stored = CachedReply.from_bytes(await backend.get(cache_key(SENT)))
    assert json.loads(stored.body)["choices"][0]["message"]["content"] == ANSWER


async def test_an_unreadable_entry_reads_as_a_miss_and_is_replaced(llm_server, make_client):
    backend = MemoryCache()
    client = make_client(CacheMiddleware(backend, scope="body"))
    await ask(client, temperature=0)
    await backend.set(cache_key(SENT), b"not a cached reply")
    assert await ask(client, temperature=0) == ANSWER
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2


# --- SQLite -----------------------------------------------------------------------


async def test_sqlite_cache_survives_a_new_client_and_backend(llm_server, make_client, tmp_path):
    path = tmp_path / "cache.db"
    first = await ask(make_client(CacheMiddleware(SQLiteCache(path))), temperature=0)
    second_client = make_client(CacheMiddleware(SQLiteCache(path)))
    assert await ask(second_client, temperature=0) == first
    assert len(llm_server.requests) == 1
    assert second_client.get_stats().cache_hits == 1


async def test_sqlite_cache_replays_a_stream_from_the_file(llm_server, make_client, tmp_path):
    path = tmp_path / "cache.db"
    writer = CacheMiddleware(SQLiteCache(path))
    live = await stream_text(make_client(writer), temperature=0)
    await writer.flush()
    assert await stream_text(make_client(CacheMiddleware(SQLiteCache(path))), temperature=0) == live
    assert len(llm_server.requests) == 1


async def test_sqlite_cache_ignores_and_prunes_expired_rows(tmp_path):
    cache = SQLiteCache(tmp_path / "cache.db")
    try:
        await cache.set("old", b"value", ttl=0.05)
        await cache.set("kept", b"value", ttl=None)
        await asyncio.sleep(0.1)
        assert await cache.get("old") is None
        assert await cache.prune() == 1
        assert await cache.get("kept") == b"value"
    finally:
        await cache.close()


def sqlite_workers():
    return [t for t in threading.enumerate() if t.name.startswith("llmpipe-sqlite-cache")]


async def test_sqlite_cache_works_on_one_worker_thread_that_close_ends(tmp_path):
    cache = SQLiteCache(tmp_path / "cache.db")
    try:
        await cache.set("key", b"value", ttl=None)
        assert await cache.get("key") == b"value"
        assert len(sqlite_workers()) == 1
    finally:
        await cache.close()
    assert sqlite_workers() == []


async def test_sqlite_cache_file_is_in_wal_mode(tmp_path):
    cache = SQLiteCache(tmp_path / "cache.db")
    try:
        await cache.set("key", b"value", ttl=None)
    finally:
        await cache.close()
    with sqlite3.connect(tmp_path / "cache.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


# --- Redis ------------------------------------------------------------------------


async def test_redis_cache_is_shared_between_two_clients(llm_server, make_client, redis_url):
    first = await ask(make_client(CacheMiddleware(RedisCache(redis_url))), temperature=0)
    second_client = make_client(CacheMiddleware(RedisCache(redis_url)))
    assert await ask(second_client, temperature=0) == first
    assert len(llm_server.requests) == 1
    assert second_client.get_stats().cache_hits == 1


CHILD = """
import asyncio, json, sys
from llmpipe import AsyncLLM, CountingMiddleware, LLMConfig, default_middlewares
from llmpipe.middleware.cache import RedisCache
from llmpipe.middleware.cache.middleware import CacheMiddleware

async def main(base_url, redis_url, question):
    config = LLMConfig(base_url=base_url)
    cache = CacheMiddleware(RedisCache(redis_url))
    stack = default_middlewares(config).insert_after(CountingMiddleware, cache)
    async with AsyncLLM(config, stack) as llm:
        reply = await llm.chat_completion(json.loads(question), temperature=0)
        hits = llm.get_stats().cache_hits
    await cache.close()
    print(json.dumps({"content": reply.choices[0].message.content, "hits": hits}))

asyncio.run(main(*sys.argv[1:]))
"""


async def test_redis_cache_is_shared_with_another_process(llm_server, make_client, redis_url):
    first = await ask(make_client(CacheMiddleware(RedisCache(redis_url))), temperature=0)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        llm_server.base_url,
        redis_url,
        json.dumps(QUESTION),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    assert json.loads(out) == {"content": first, "hits": 1}
    assert len(llm_server.requests) == 1


async def test_redis_entries_expire_in_redis(make_client, redis_url):
    client = make_client(CacheMiddleware(RedisCache(redis_url, prefix="t:"), ttl=30))
    await ask(client, temperature=0)
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        [name] = await connection.keys("t:v2:*")
        assert 0 < await connection.pttl(name) <= 30_000
    finally:
        await connection.aclose()


async def test_redis_keys_are_the_prefix_and_the_cache_key(make_client, redis_url):
    client = make_client(CacheMiddleware(RedisCache(redis_url, prefix="app:")))
    await ask(client, temperature=0)
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        secret, name = sorted(await connection.keys("*"))
    finally:
        await connection.aclose()
    assert secret == b"app:secret"
    assert re.fullmatch(rb"app:v2:[0-9a-f]{64}", name)


async def test_a_redis_outage_does_not_fail_the_call_and_is_logged(
    llm_server, make_client, log_lines
):
    down = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    client = make_client(CacheMiddleware(down))
    assert await ask(client, temperature=0) == ANSWER
    assert await ask(client, temperature=0) == ANSWER
    assert len(llm_server.requests) == 2
    [warning] = [line for line in log_lines if "WARNING" in line]  # once per cooldown
    assert "could not read" in warning
    assert "ConnectionError" in warning


# --- secrets ----------------------------------------------------------------------


async def test_the_api_key_never_reaches_redis(make_client, config, redis_url):
    client = make_client(CacheMiddleware(RedisCache(redis_url)), attrs.evolve(config, api_key=KEY))
    await ask(client, temperature=0)
    await stream_text(client, temperature=0)
    await client.pipeline.find(CacheMiddleware).flush()
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        names = await connection.keys("*")
        stored = [await connection.get(name) for name in names]
    finally:
        await connection.aclose()
    assert len(stored) == 3  # two replies and the cache's secret
    assert all(KEY.encode() not in value and b"Bearer" not in value for value in stored)


async def test_the_api_key_never_reaches_the_sqlite_file(make_client, config, tmp_path):
    cache = CacheMiddleware(SQLiteCache(tmp_path / "cache.db"))
    client = make_client(cache, attrs.evolve(config, api_key=KEY))
    await ask(client, temperature=0)
    await stream_text(client, temperature=0)
    await cache.close()
    files = list(tmp_path.iterdir())
    assert tmp_path / "cache.db" in files
    assert all(KEY.encode() not in path.read_bytes() for path in files)
    with sqlite3.connect(tmp_path / "cache.db") as db:
        rows = db.execute("SELECT key, value FROM llmpipe_cache").fetchall()
    db.close()
    assert len(rows) == 2
    assert all(KEY.encode() not in value for _, value in rows)
