"""Cache isolation: one server's or one credential's reply is never served to another.

Clients with different API keys, and clients of different servers, share one
memory, one SQLite file and one real Redis. The default scope keeps their
entries apart; ``scope="server"`` and ``scope="body"`` share them on request.
The raw API key is in no byte a backend stores.
"""

import asyncio
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import attrs
import pytest
import redis.asyncio

from llmpipe import AsyncLLM, CountingMiddleware, LLMConfig, LLMRequest, default_middlewares
from llmpipe.middleware.cache import (
    VARY_HEADERS,
    CachedReply,
    MemoryCache,
    RedisCache,
    SQLiteCache,
    cache_key,
)
from llmpipe.middleware.cache.key import canonical_json
from llmpipe.middleware.cache.middleware import CacheMiddleware
from llmpipe.testing import LLMServer
from llmpipe.transport.base import Transport
from tests.conftest import FAST_RETRIES

ROOT = Path(__file__).resolve().parents[1]
QUESTION = [{"role": "user", "content": "what is the capital of France"}]
ANSWER = "Echo: what is the capital of France"
KEY_A = "sk-tenant-a-0123456789abcdef0123"
KEY_B = "sk-tenant-b-fedcba9876543210fedc"
BACKENDS = ("memory", "sqlite", "redis")


@pytest.fixture
def other_server():
    """A second server: staging next to production."""
    with LLMServer().run_in_thread() as server:
        yield server


@pytest.fixture
def backend_on(tmp_path, redis_url):
    """Backends onto one shared store: the same MemoryCache object, or a new
    SQLiteCache or RedisCache on the same file or Redis (as another process would)."""
    memory = MemoryCache()

    def make(kind):
        if kind == "memory":
            return memory
        if kind == "sqlite":
            return SQLiteCache(tmp_path / "shared.db")
        return RedisCache(redis_url)

    return make


@pytest.fixture
async def make_client():
    """Clients with a CacheMiddleware just inside counting; closed after the test."""
    made = []

    def make(cache, config):
        stack = default_middlewares(config).insert_after(CountingMiddleware, cache)
        client = AsyncLLM(config, stack)
        made.append((client, cache))
        return client

    yield make
    for client, cache in made:
        await client.close()
        await cache.close()


def config_for(server, api_key=None, **extra):
    return LLMConfig(base_url=server.base_url, api_key=api_key, **FAST_RETRIES, **extra)


async def ask(client, **kwargs):
    reply = await client.chat_completion(QUESTION, temperature=0, **kwargs)
    return reply.choices[0].message.content


def keys_sent(server):
    return [request.headers.get("Authorization") for request in server.requests]


# --- the default scope keeps credentials and servers apart ----------------------------


@pytest.mark.parametrize("kind", BACKENDS)
async def test_clients_with_different_api_keys_never_get_each_others_replies(
    kind, llm_server, backend_on, make_client
):
    tenant_a = make_client(CacheMiddleware(backend_on(kind)), config_for(llm_server, KEY_A))
    tenant_b = make_client(CacheMiddleware(backend_on(kind)), config_for(llm_server, KEY_B))
    assert await ask(tenant_a) == ANSWER
    assert await ask(tenant_b) == ANSWER
    assert keys_sent(llm_server) == [f"Bearer {KEY_A}", f"Bearer {KEY_B}"]
    assert tenant_b.get_stats().cache_hits == 0


@pytest.mark.parametrize("kind", BACKENDS)
async def test_clients_of_different_servers_never_get_each_others_replies(
    kind, llm_server, other_server, backend_on, make_client
):
    production = make_client(CacheMiddleware(backend_on(kind)), config_for(llm_server, KEY_A))
    staging = make_client(CacheMiddleware(backend_on(kind)), config_for(other_server, KEY_A))
    assert await ask(production) == ANSWER
    assert await ask(staging) == ANSWER
    assert (len(llm_server.requests), len(other_server.requests)) == (1, 1)
    assert staging.get_stats().cache_hits == 0


@pytest.mark.parametrize("kind", BACKENDS)
async def test_clients_of_one_server_and_key_share_entries(
    kind, llm_server, backend_on, make_client
):
    first = make_client(CacheMiddleware(backend_on(kind)), config_for(llm_server, KEY_A))
    second = make_client(CacheMiddleware(backend_on(kind)), config_for(llm_server, KEY_A))
    assert await ask(first) == ANSWER
    assert await ask(second) == ANSWER
    assert len(llm_server.requests) == 1
    assert second.get_stats().cache_hits == 1


# --- wider scopes share, as asked ----------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
async def test_scope_server_shares_entries_between_api_keys(
    kind, llm_server, backend_on, make_client
):
    tenant_a = make_client(
        CacheMiddleware(backend_on(kind), scope="server"), config_for(llm_server, KEY_A)
    )
    tenant_b = make_client(
        CacheMiddleware(backend_on(kind), scope="server"), config_for(llm_server, KEY_B)
    )
    assert await ask(tenant_a) == ANSWER
    assert await ask(tenant_b) == ANSWER
    assert keys_sent(llm_server) == [f"Bearer {KEY_A}"]
    assert tenant_b.get_stats().cache_hits == 1


@pytest.mark.parametrize("kind", BACKENDS)
async def test_scope_server_keeps_servers_apart(
    kind, llm_server, other_server, backend_on, make_client
):
    production = make_client(
        CacheMiddleware(backend_on(kind), scope="server"), config_for(llm_server, KEY_A)
    )
    staging = make_client(
        CacheMiddleware(backend_on(kind), scope="server"), config_for(other_server, KEY_A)
    )
    assert await ask(production) == ANSWER
    assert await ask(staging) == ANSWER
    assert (len(llm_server.requests), len(other_server.requests)) == (1, 1)


@pytest.mark.parametrize("kind", BACKENDS)
async def test_scope_body_shares_entries_between_servers_and_keys(
    kind, llm_server, other_server, backend_on, make_client
):
    production = make_client(
        CacheMiddleware(backend_on(kind), scope="body"), config_for(llm_server, KEY_A)
    )
    staging = make_client(
        CacheMiddleware(backend_on(kind), scope="body"), config_for(other_server, KEY_B)
    )
    assert await ask(production) == ANSWER
    assert await ask(staging) == ANSWER
    assert (len(llm_server.requests), len(other_server.requests)) == (1, 0)
    assert staging.get_stats().cache_hits == 1


# --- the raw key is stored nowhere ---------------------------------------------------


async def fill(kind, llm_server, other_server, backend_on, make_client):
    """Both keys, both servers, every scope, a plain call and a stream each;
    then every pending store is finished and every backend closed."""
    caches = []
    for scope in ("credential", "server", "body"):
        for server in (llm_server, other_server):
            for key in (KEY_A, KEY_B):
                cache = CacheMiddleware(backend_on(kind), scope=scope)
                client = make_client(cache, config_for(server, key))
                caches.append(cache)
                await ask(client, extra_headers={"OpenAI-Organization": f"org-{key}"})
                stream = await client.chat_completion(QUESTION, temperature=0, stream=True)
                await stream.collect()
    for cache in caches:
        await cache.close()


async def test_the_api_key_is_in_no_byte_of_the_sqlite_files(
    llm_server, other_server, backend_on, make_client, tmp_path
):
    await fill("sqlite", llm_server, other_server, backend_on, make_client)
    with sqlite3.connect(tmp_path / "shared.db") as db:
        [(entries,)] = db.execute("SELECT count(*) FROM llmpipe_cache").fetchall()
    db.close()
    files = sorted(tmp_path.glob("shared.db*"))
    assert entries == 2 * (4 + 2 + 1)  # plain and stream: per key and server, server, body
    assert tmp_path / "shared.db" in files
    for path in files:
        data = path.read_bytes()
        for key in (KEY_A, KEY_B):
            assert key.encode() not in data
            assert key.encode().hex().encode() not in data


async def test_the_api_key_is_in_no_redis_key_or_value(
    llm_server, other_server, backend_on, make_client, redis_url
):
    await fill("redis", llm_server, other_server, backend_on, make_client)
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        names = await connection.keys("*")
        stored = [name + b"\n" + await connection.get(name) for name in names]
    finally:
        await connection.aclose()
    assert len(stored) == 2 * (4 + 2 + 1) + 1  # the entries and the cache's secret
    for data in stored:
        for key in (KEY_A, KEY_B):
            assert key.encode() not in data
            assert key.encode().hex().encode() not in data


# --- per-call and per-client headers that say who asks -------------------------------


@pytest.mark.parametrize("header", VARY_HEADERS)
async def test_each_listed_per_call_header_splits_the_cache(header, llm_server, make_client):
    client = make_client(CacheMiddleware(), config_for(llm_server, KEY_A))
    await ask(client, extra_headers={header: "tenant-1"})
    await ask(client, extra_headers={header: "tenant-2"})
    await ask(client, extra_headers={header.upper(): "tenant-1"})  # names ignore case
    assert len(llm_server.requests) == 2
    assert client.get_stats().cache_hits == 1


async def test_a_header_added_to_vary_headers_splits_the_cache(llm_server, make_client):
    cache = CacheMiddleware(vary_headers=("X-Tenant",))
    client = make_client(cache, config_for(llm_server, KEY_A))
    await ask(client, extra_headers={"X-Tenant": "one"})
    await ask(client, extra_headers={"X-Tenant": "two"})
    assert len(llm_server.requests) == 2


async def test_a_per_call_header_not_listed_does_not_split_the_cache(llm_server, make_client):
    client = make_client(CacheMiddleware(), config_for(llm_server, KEY_A))
    await ask(client, extra_headers={"X-Trace-Id": "one"})
    await ask(client, extra_headers={"X-Trace-Id": "two"})
    assert len(llm_server.requests) == 1


async def test_an_organization_header_in_the_config_splits_the_cache(
    llm_server, backend_on, make_client
):
    org_one = config_for(llm_server, KEY_A, extra_headers={"OpenAI-Organization": "org-1"})
    org_two = attrs.evolve(org_one, extra_headers={"OpenAI-Organization": "org-2"})
    await ask(make_client(CacheMiddleware(backend_on("memory")), org_one))
    await ask(make_client(CacheMiddleware(backend_on("memory")), org_two))
    assert len(llm_server.requests) == 2


async def test_a_listed_header_is_ignored_in_scope_server(llm_server, make_client):
    client = make_client(CacheMiddleware(scope="server"), config_for(llm_server, KEY_A))
    await ask(client, extra_headers={"OpenAI-Organization": "org-1"})
    await ask(client, extra_headers={"OpenAI-Organization": "org-2"})
    assert len(llm_server.requests) == 1


# --- keys of the previous format --------------------------------------------------


SENT = LLMRequest(
    "chat/completions", body={"model": "gpt-4", "messages": QUESTION, "temperature": 0}
)


async def stale_entry_under(key, backend):
    """A well-formed stored reply saying "stale", written under ``key``."""
    message = {"role": "assistant", "content": "stale"}
    reply = {
        "id": "old",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    entry = CachedReply(200, "application/json", json.dumps(reply).encode())
    await backend.set(key, entry.to_bytes())


async def test_an_entry_under_a_previous_format_key_is_not_served(
    llm_server, make_client, tmp_path
):
    backend = SQLiteCache(tmp_path / "old.db")
    await stale_entry_under(hashlib.sha256(canonical_json(SENT)).hexdigest(), backend)
    client = make_client(CacheMiddleware(backend, scope="body"), config_for(llm_server))
    assert await ask(client) == ANSWER
    assert len(llm_server.requests) == 1


async def test_the_same_entry_under_the_current_key_is_served(llm_server, make_client, tmp_path):
    backend = SQLiteCache(tmp_path / "old.db")
    await stale_entry_under(cache_key(SENT), backend)
    client = make_client(CacheMiddleware(backend, scope="body"), config_for(llm_server))
    assert await ask(client) == "stale"
    assert llm_server.requests == []


# --- processes sharing one Redis agree on the secret ---------------------------------

CHILD = """
import asyncio, json, sys
from llmpipe import AsyncLLM, CountingMiddleware, LLMConfig, default_middlewares
from llmpipe.middleware.cache import RedisCache
from llmpipe.middleware.cache.middleware import CacheMiddleware

async def main(base_url, redis_url, api_key, question):
    config = LLMConfig(base_url=base_url, api_key=api_key)
    cache = CacheMiddleware(RedisCache(redis_url))
    stack = default_middlewares(config).insert_after(CountingMiddleware, cache)
    async with AsyncLLM(config, stack) as llm:
        reply = await llm.chat_completion(json.loads(question), temperature=0)
        hits = llm.get_stats().cache_hits
    await cache.close()
    print(json.dumps({"content": reply.choices[0].message.content, "hits": hits}))

asyncio.run(main(*sys.argv[1:]))
"""


async def ask_in_child(server, redis_url, api_key):
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        server.base_url,
        redis_url,
        api_key,
        json.dumps(QUESTION),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    return json.loads(out)


async def test_another_process_with_the_same_key_shares_the_entry(
    llm_server, make_client, redis_url
):
    client = make_client(CacheMiddleware(RedisCache(redis_url)), config_for(llm_server, KEY_A))
    await ask(client)
    assert await ask_in_child(llm_server, redis_url, KEY_A) == {"content": ANSWER, "hits": 1}
    assert len(llm_server.requests) == 1


async def test_another_process_with_another_key_does_not_share_the_entry(
    llm_server, make_client, redis_url
):
    client = make_client(CacheMiddleware(RedisCache(redis_url)), config_for(llm_server, KEY_A))
    await ask(client)
    assert await ask_in_child(llm_server, redis_url, KEY_B) == {"content": ANSWER, "hits": 0}
    assert keys_sent(llm_server) == [f"Bearer {KEY_A}", f"Bearer {KEY_B}"]


# --- one middleware, one client ---------------------------------------------------


async def test_one_cache_middleware_refuses_a_client_of_another_server(llm_server, other_server):
    cache = CacheMiddleware()
    async with AsyncLLM(config_for(llm_server, KEY_A), [cache]):
        with pytest.raises(ValueError, match="give each client its own CacheMiddleware"):
            AsyncLLM(config_for(other_server, KEY_A), [cache])


async def test_one_cache_middleware_refuses_a_client_with_another_key(llm_server):
    cache = CacheMiddleware()
    async with AsyncLLM(config_for(llm_server, KEY_A), [cache]):
        with pytest.raises(ValueError, match="give each client its own CacheMiddleware"):
            AsyncLLM(config_for(llm_server, KEY_B), [cache])


async def test_scope_server_lets_one_middleware_serve_clients_with_other_keys(
    llm_server, make_client
):
    cache = CacheMiddleware(scope="server")
    await ask(make_client(cache, config_for(llm_server, KEY_A)))
    assert await ask(make_client(cache, config_for(llm_server, KEY_B))) == ANSWER
    assert len(llm_server.requests) == 1


class Unnamed(Transport):
    """A transport that does not say where it sends (the base class's default)."""

    async def send(self, request):
        raise AssertionError("never called")

    async def close(self):
        pass

    @property
    def closed(self):
        return False


def test_a_transport_without_an_origin_is_refused(config):
    with pytest.raises(TypeError, match="does not say which server"):
        AsyncLLM(config, [CacheMiddleware()], transport=Unnamed())


async def test_scope_body_accepts_a_transport_without_an_origin(config):
    async with AsyncLLM(config, [CacheMiddleware(scope="body")], transport=Unnamed()) as client:
        assert client.pipeline.find(CacheMiddleware).scope == "body"


async def test_an_unbound_middleware_refuses_to_key_a_call():
    async def server(request):
        raise AssertionError("never called")

    with pytest.raises(RuntimeError, match="before it was bound to a transport"):
        await CacheMiddleware()(SENT, server)


def test_an_unknown_scope_is_refused():
    expected = r"scope must be one of \['credential', 'server', 'body'\], got 'tenant'"
    with pytest.raises(ValueError, match=expected):
        CacheMiddleware(scope="tenant")


def test_vary_headers_given_as_one_string_is_refused():
    with pytest.raises(ValueError, match="vary_headers must be header names"):
        CacheMiddleware(vary_headers="X-Tenant")


class Secretless:
    """A backend written before caches had secrets."""

    async def get(self, key):
        return None

    async def set(self, key, value, ttl=None):
        pass

    async def close(self):
        pass


def test_a_backend_without_a_secret_is_refused_in_the_default_scope():
    with pytest.raises(TypeError, match="has no secret"):
        CacheMiddleware(Secretless())


def test_a_backend_without_a_secret_serves_scope_server():
    assert CacheMiddleware(Secretless(), scope="server").scope == "server"


# --- the secret ---------------------------------------------------------------------


async def test_two_redis_caches_on_one_prefix_agree_on_one_secret(redis_url):
    first, second = RedisCache(redis_url), RedisCache(redis_url)
    try:
        assert await first.secret() == await second.secret()
        assert len(await first.secret()) == 32
    finally:
        await first.close()
        await second.close()


async def test_two_redis_prefixes_have_different_secrets(redis_url):
    first, second = RedisCache(redis_url, prefix="a:"), RedisCache(redis_url, prefix="b:")
    try:
        assert await first.secret() != await second.secret()
    finally:
        await first.close()
        await second.close()


async def test_two_sqlite_caches_on_one_file_agree_on_one_secret(tmp_path):
    first, second = SQLiteCache(tmp_path / "c.db"), SQLiteCache(tmp_path / "c.db")
    try:
        assert await first.secret() == await second.secret()
        assert len(await first.secret()) == 32
    finally:
        await first.close()
        await second.close()


async def test_two_sqlite_files_have_different_secrets(tmp_path):
    first, second = SQLiteCache(tmp_path / "one.db"), SQLiteCache(tmp_path / "two.db")
    try:
        assert await first.secret() != await second.secret()
    finally:
        await first.close()
        await second.close()


async def test_two_memory_caches_have_different_secrets():
    assert await MemoryCache().secret() != await MemoryCache().secret()


async def test_a_middleware_called_unbound_then_bound_keys_by_the_credential(
    llm_server, make_client
):
    async def server(request):
        raise AssertionError("never called")

    cache = CacheMiddleware(scope="credential")
    with pytest.raises(RuntimeError):
        await cache(SENT, server)
    client = make_client(cache, config_for(llm_server, KEY_A))
    await ask(client)
    assert await cache.key(SENT) != cache_key(SENT, origin=client.transport.origin)


async def test_a_reply_is_stored_under_the_key_the_middleware_names(llm_server, make_client):
    backend = MemoryCache()
    cache = CacheMiddleware(backend)
    await ask(make_client(cache, config_for(llm_server, KEY_A)))
    stored = CachedReply.from_bytes(await backend.get(await cache.key(SENT)))
    assert json.loads(stored.body)["choices"][0]["message"]["content"] == ANSWER
