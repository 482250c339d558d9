"""Response caching: ``CacheMiddleware``, and the key, policy, format and backends.

``middleware`` is the layer; ``key`` (what makes two calls the same),
``scope`` (who may share a reply), ``policy`` (which calls may be cached),
``entry`` (the stored format), ``replay`` (a cached stream played back), and
the backends ``memory``, ``sqlite`` and ``redis``. Importing this package does not import ``redis``.
"""

from llmpipe.middleware.cache.backend import CacheBackend
from llmpipe.middleware.cache.entry import CachedReply
from llmpipe.middleware.cache.key import cache_key
from llmpipe.middleware.cache.memory import MemoryCache
from llmpipe.middleware.cache.middleware import CacheMiddleware
from llmpipe.middleware.cache.policy import CachePolicy, deterministic
from llmpipe.middleware.cache.redis import RedisCache
from llmpipe.middleware.cache.scope import VARY_HEADERS, CacheScope
from llmpipe.middleware.cache.sqlite import SQLiteCache

__all__ = [
    "VARY_HEADERS",
    "CacheBackend",
    "CacheMiddleware",
    "CachePolicy",
    "CacheScope",
    "CachedReply",
    "MemoryCache",
    "RedisCache",
    "SQLiteCache",
    "cache_key",
    "deterministic",
]
