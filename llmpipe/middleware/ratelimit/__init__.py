"""Client-side rate limiting: ``RateLimitMiddleware`` and its parts.

``middleware`` is the layer; ``bucket`` (the maths), ``headers`` (the
server's view), ``backend`` (the protocol), ``local`` and ``redis_limiter``
(where the buckets live). A call's tokens are guessed before it is sent by
``llmpipe.wire.estimate`` and corrected with ``llmpipe.wire.usage``, as
budgets do. Importing this package does not import ``redis``.
"""

from llmpipe.middleware.ratelimit.backend import Grant, LimiterBackend, LimiterUnavailable, Limits
from llmpipe.middleware.ratelimit.bucket import Bucket, TokenBucket, start_time
from llmpipe.middleware.ratelimit.headers import ServerLimits, parse_duration
from llmpipe.middleware.ratelimit.local import LocalLimiter
from llmpipe.middleware.ratelimit.middleware import RateLimitMiddleware
from llmpipe.middleware.ratelimit.redis_limiter import RedisLimiter
from llmpipe.wire.estimate import CharacterEstimator, TokenEstimator

__all__ = [
    "Bucket",
    "CharacterEstimator",
    "Grant",
    "LimiterBackend",
    "LimiterUnavailable",
    "Limits",
    "LocalLimiter",
    "RateLimitMiddleware",
    "RedisLimiter",
    "ServerLimits",
    "TokenBucket",
    "TokenEstimator",
    "parse_duration",
    "start_time",
]
