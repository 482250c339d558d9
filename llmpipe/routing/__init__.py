"""Many deployments behind one client: balancing, breakers, fallbacks, hedging,
adaptive concurrency.

``Router`` is a ``Transport``: give it to a client (``AsyncLLM(config,
transport=Router({...}, config=config))``) and the whole middleware stack
(retry, cache, logging, counting) runs above it as usual, each attempt routed
afresh. One concept per module:

    deployment   Deployment: one server, its credentials, model name, weight, limits
    replica      a deployment at run time: its pool, pipeline, load, breaker, limit
    load         the peak-EWMA latency estimate
    balance      PowerOfTwoChoices (peak-EWMA), RoundRobin, WeightedRandom
    breaker      CircuitBreaker and its BreakerPolicy
    shared       the protocol of breakers shared across processes; redis_breakers keeps them
    fallback     which failure goes where (Fallbacks), read once (Failure)
    hedge        Hedging: when to send a second request, and its budget
    limit        Aimd, Gradient: adaptive concurrency per deployment
    pick         which deployment a request goes to, and the wait when none can take it
    queue        the calls waiting for a deployment
    attempt      one request to one deployment, and what it taught the router
    race         a hedged request: the first good reply wins
    router       Router: the transport that puts them together
"""

from llmpipe.routing.balance import Balancer, PowerOfTwoChoices, RoundRobin, WeightedRandom
from llmpipe.routing.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from llmpipe.routing.deployment import Deployment
from llmpipe.routing.errors import NoDeploymentAvailable, UnknownAlias
from llmpipe.routing.fallback import Failure, Fallbacks
from llmpipe.routing.hedge import Hedging
from llmpipe.routing.limit import Aimd, ConcurrencyLimit, Gradient, LimitPolicy
from llmpipe.routing.redis_breakers import RedisBreakers
from llmpipe.routing.replica import ReplicaStats
from llmpipe.routing.router import Router
from llmpipe.routing.shared import SharedBreakers

__all__ = [
    "Aimd",
    "Balancer",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "ConcurrencyLimit",
    "Deployment",
    "Failure",
    "Fallbacks",
    "Gradient",
    "Hedging",
    "LimitPolicy",
    "NoDeploymentAvailable",
    "PowerOfTwoChoices",
    "RedisBreakers",
    "ReplicaStats",
    "RoundRobin",
    "Router",
    "SharedBreakers",
    "UnknownAlias",
    "WeightedRandom",
]
