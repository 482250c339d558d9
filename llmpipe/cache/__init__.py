"""Response caching: the key, the policy, the stored format and the backends.

``llmpipe.middleware.cache.CacheMiddleware`` puts them to work in the onion.
"""

from llmpipe.cache.backend import CacheBackend
from llmpipe.cache.entry import CachedReply
from llmpipe.cache.key import cache_key
from llmpipe.cache.memory import MemoryCache
from llmpipe.cache.policy import CachePolicy, deterministic
from llmpipe.cache.redis import RedisCache
from llmpipe.cache.sqlite import SQLiteCache

__all__ = [
    "CacheBackend",
    "CachePolicy",
    "CachedReply",
    "MemoryCache",
    "RedisCache",
    "SQLiteCache",
    "cache_key",
    "deterministic",
]
