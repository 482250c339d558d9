"""The parts of client-side rate limiting, each in its own module.

``bucket`` (the maths), ``estimate`` (tokens before the call), ``usage``
(tokens after it), ``headers`` (the server's view), ``backend`` (the
protocol), ``local`` and ``redis_limiter`` (where the buckets live). ``RateLimitMiddleware`` in
``llmpipe.middleware.rate_limit`` puts them together. Importing this package
does not import ``redis``.
"""

from llmpipe.ratelimit.backend import Grant, LimiterBackend, LimiterUnavailable, Limits
from llmpipe.ratelimit.bucket import Bucket, TokenBucket, start_time
from llmpipe.ratelimit.estimate import CharacterEstimator, TokenEstimator
from llmpipe.ratelimit.headers import ServerLimits, parse_duration
from llmpipe.ratelimit.local import LocalLimiter
from llmpipe.ratelimit.redis_limiter import RedisLimiter

__all__ = [
    "Bucket",
    "CharacterEstimator",
    "Grant",
    "LimiterBackend",
    "LimiterUnavailable",
    "Limits",
    "LocalLimiter",
    "RedisLimiter",
    "ServerLimits",
    "TokenBucket",
    "TokenEstimator",
    "parse_duration",
    "start_time",
]
