"""Which deployment of an alias a request goes to, now or after a wait.

The half-open probe first (a breaker's cooldown is over: one request tests
the deployment), else the balancer's choice among deployments whose breaker
is closed and that have room under their limits. Finding none, a call waits
in the alias's queue: for room, until its deadline; for a cooldown to end,
up to ``max_wait``. Hedges and fallbacks never wait: they go now or not at all.
"""

from __future__ import annotations

import asyncio

from llmpipe.errors import LLMTimeoutError
from llmpipe.request import LLMRequest
from llmpipe.routing.balance import Balancer
from llmpipe.routing.breaker import BreakerState
from llmpipe.routing.hedge import Hedger, Hedging
from llmpipe.routing.queue import WaitQueue
from llmpipe.routing.replica import Replica
from llmpipe.routing.shared import SharedBreakers

__all__ = ["AliasGroup", "Picker"]

CLOSED = BreakerState.CLOSED


class AliasGroup:
    """The deployments of one alias, their queue and hedging state."""

    __slots__ = ("hedger", "name", "queue", "replicas")

    def __init__(self, name: str, hedging: Hedging | None) -> None:
        self.name = name
        self.replicas: tuple[Replica, ...] = ()
        self.queue = WaitQueue()
        self.hedger = None if hedging is None else Hedger(hedging)

    def describe(self, now: float) -> str:
        """Each deployment's breaker, for a message saying why none was picked."""
        parts = []
        for replica in self.replicas:
            breaker = replica.breaker
            wait = max(0.0, breaker.open_until - now)
            parts.append(f"{replica.name} {breaker.state.value} ({wait:.3g} s left)")
        return "; ".join(parts)


class Picker:
    """Picks deployments with ``balancer``; ``shared`` breakers are read first."""

    __slots__ = ("balancer", "max_wait", "shared")

    def __init__(self, balancer: Balancer, shared: SharedBreakers | None, max_wait: float) -> None:
        self.balancer = balancer
        self.shared = shared
        self.max_wait = max_wait

    async def pick(
        self, group: AliasGroup, tried: set[Replica], request: LLMRequest, *, wait: bool
    ) -> tuple[Replica, bool] | None:
        """A deployment to send to and whether it is the probe; None when none is left.

        With ``wait`` (nothing tried yet), a call finding every deployment
        full queues until its deadline; one finding every breaker open waits
        up to ``max_wait`` for a cooldown to end.
        """
        loop = asyncio.get_running_loop()
        deadline = request.options.deadline_at
        cooling_since: float | None = None
        shared = self.shared
        while True:
            if shared is not None:
                await shared.refresh(group.replicas, loop.time())
            now = loop.time()
            roomy: list[Replica] = []
            healthy = False
            soonest = float("inf")
            for replica in group.replicas:
                if tried and replica in tried:
                    continue
                breaker = replica.breaker
                if breaker.state is CLOSED:  # the common case, first
                    healthy = True
                    if replica.has_room():
                        roomy.append(replica)
                    continue
                if not breaker.available(now):
                    if breaker.open_until > now:
                        soonest = min(soonest, breaker.open_until)
                    continue
                healthy = True
                if not replica.has_room():
                    continue
                if breaker.probing(now):
                    if shared is not None and not await shared.claim_probe(replica, now):
                        continue  # another process sends the probe
                    breaker.admit(now)
                    replica.probes += 1
                    return replica, True
                roomy.append(replica)
            if roomy:
                return self.balancer.choose(roomy, now), False
            if not wait:
                return None
            if deadline is not None and now >= deadline:
                raise LLMTimeoutError(
                    f"{request.endpoint}: not sent: the call's deadline passed while it waited "
                    f"for a deployment of {group.name!r} ({group.describe(now)})"
                )
            until = deadline
            if not healthy:  # every breaker open: wait a little for the first cooldown
                if cooling_since is None:
                    cooling_since = now
                give_up = cooling_since + self.max_wait
                if now >= give_up or give_up < soonest < float("inf"):
                    return None
                until = min(soonest, give_up, float("inf") if deadline is None else deadline)
            await group.queue.wait(until)

    def pick_hedge(self, group: AliasGroup, tried: set[Replica]) -> Replica | None:
        """A deployment for a hedge, now or never: closed, with room, not tried."""
        now = asyncio.get_running_loop().time()
        roomy = [
            r
            for r in group.replicas
            if r not in tried
            and r.breaker.available(now)
            and not r.breaker.probing(now)
            and r.has_room()
        ]
        if not roomy:
            return None
        chosen = self.balancer.choose(roomy, now)
        tried.add(chosen)
        return chosen
