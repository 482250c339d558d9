"""Router: a transport over many deployments, addressed by model aliases.

It sits at the inner end of the onion, inside retry: each attempt the retry
layer makes is routed afresh. Per attempt, for the request's alias (its
``model``), the router

1. picks a deployment: the half-open probe if a breaker's cooldown is over,
   else the balancer's choice among those whose breaker is closed and that
   have room under their concurrency limit; if none has room, the call
   queues (until its deadline), and if every breaker is open it waits up to
   ``max_wait`` for the first cooldown to end;
2. sends through that deployment's own pipeline and transport, under the
   model name that server knows, hedging to a second deployment when the
   reply is late (``Hedging``);
3. on a connection error, a timeout, a 5xx or a 429, tries another
   deployment of the alias; on a context-length or content-filter refusal,
   the alias ``Fallbacks`` names; on any other 4xx, nothing more. A stream
   can fall back only before its first event, as nothing has reached the
   caller then.

What happened is in ``request.context`` (``deployment``, ``fallbacks``,
``hedges``, ``hedges_won``) for the layers outside, and ``stats()`` gives each
deployment's state. A fallback inside one attempt is not a retry: the retry
layer sees one attempt, with the last deployment's reply or error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import Mapping, Sequence

from llmpipe import logs
from llmpipe.config import LLMConfig
from llmpipe.errors import ClientClosedError
from llmpipe.pipeline import Pipeline
from llmpipe.request import FallbackStep, LLMRequest, LLMResponse
from llmpipe.routing.attempt import Outcome, Settle, send_to
from llmpipe.routing.balance import Balancer, PowerOfTwoChoices
from llmpipe.routing.breaker import BreakerPolicy, CircuitBreaker
from llmpipe.routing.deployment import Deployment
from llmpipe.routing.errors import NoDeploymentAvailable, UnknownAlias
from llmpipe.routing.fallback import Fallbacks
from llmpipe.routing.hedge import Hedging
from llmpipe.routing.limit import LimitPolicy
from llmpipe.routing.load import PeakEwma, Prior
from llmpipe.routing.pick import AliasGroup, Picker
from llmpipe.routing.race import race
from llmpipe.routing.replica import Replica, ReplicaStats
from llmpipe.routing.shared import SharedBreakers
from llmpipe.transport.base import Transport

__all__ = ["Router"]

_FELL_BACK = "router: {endpoint} moves from {source} to {target} after: {reason}"
_NEVER_OPENS = BreakerPolicy(failures=2**31 - 1, honour_retry_after=False)


class Router(Transport):
    """Sends each request to one deployment of its alias (see the module docstring).

    ``deployments`` maps each alias (the model name callers use) to its
    deployments. ``config`` is the template for the deployments' transports
    (timeouts, pool size, TLS); use the client's. ``breaker=None`` disables
    breakers, ``hedging=None`` (default) hedging, ``limit=None`` (default)
    adaptive concurrency. ``shared`` keeps breakers in step across processes
    (``RedisBreakers``). A request without a model goes to the first alias.
    """

    def __init__(
        self,
        deployments: Mapping[str, Sequence[Deployment]],
        *,
        config: LLMConfig | None = None,
        balancer: Balancer | None = None,
        breaker: BreakerPolicy | None = BreakerPolicy(),  # noqa: B008 - frozen, shared safely
        fallbacks: Fallbacks | None = None,
        hedging: Hedging | None = None,
        limit: LimitPolicy | None = None,
        shared: SharedBreakers | None = None,
        max_wait: float = 1.0,
    ) -> None:
        if not isinstance(deployments, Mapping) or not deployments:
            raise ValueError(
                "Router needs a mapping of alias -> deployments, e.g. "
                "{'chat': [Deployment(base_url=...), Deployment(base_url=...)]}"
            )
        self.config = config if config is not None else LLMConfig()
        self.balancer: Balancer = balancer if balancer is not None else PowerOfTwoChoices()
        self.breaker = breaker
        self.fallbacks = fallbacks if fallbacks is not None else Fallbacks()
        self.hedging = hedging
        self.limit = limit
        self.shared = shared
        self.max_wait = max_wait
        self._picker = Picker(self.balancer, shared, max_wait)
        self._aliases: dict[str, AliasGroup] = {}
        self._settle: dict[str, Settle] = {}
        names: set[str] = set()
        for alias, group in deployments.items():
            self._aliases[alias] = self._build(alias, group, names)
        unknown = self.fallbacks.aliases() - set(self._aliases)
        if unknown:
            raise ValueError(
                f"Fallbacks name aliases the router does not have: {sorted(unknown)}; "
                f"its aliases: {sorted(self._aliases)}"
            )
        self._default = next(iter(self._aliases.values()))
        self._closed = False
        if shared is not None:
            shared.attach([r.name for r in self.replicas()])

    def _build(self, alias: str, group: Sequence[Deployment], names: set[str]) -> AliasGroup:
        if not isinstance(alias, str) or not alias or not group:
            raise ValueError(f"alias {alias!r} needs a non-empty name and at least one Deployment")
        state = AliasGroup(alias, self.hedging)
        prior = Prior()
        replicas = []
        for index, deployment in enumerate(group):
            if not isinstance(deployment, Deployment):
                raise TypeError(
                    f"{alias}[{index}] is a {type(deployment).__name__}, not a Deployment"
                )
            name = deployment.name or f"{alias}[{index}]"
            if name in names:
                raise ValueError(f"two deployments are named {name!r}; names must be unique")
            names.add(name)
            transport = deployment.make_transport(self.config)
            limit = deployment.limit or self.limit
            replicas.append(
                Replica(
                    name=name,
                    alias=alias,
                    model=deployment.model,
                    weight=float(deployment.weight),
                    transport=transport,
                    pipeline=Pipeline(deployment.stack(), transport),
                    breaker=CircuitBreaker(self.breaker or _NEVER_OPENS),
                    limit=None if limit is None else limit.start(),
                    max_in_flight=deployment.max_in_flight,
                    load=PeakEwma(prior),
                    wake=state.queue.wake_one,
                )
            )
        state.replicas = tuple(replicas)
        self._settle[alias] = Settle(
            hedger=state.hedger,
            filtered_choices=alias in self.fallbacks.content_filter,
            on_opened=self._opened,
            on_closed=self._closed_again,
        )
        return state

    def __repr__(self) -> str:
        groups = ", ".join(f"{a}: {len(s.replicas)}" for a, s in self._aliases.items())
        return f"Router({{{groups}}}, balancer={self.balancer!r}, closed={self._closed})"

    # -- what the router knows -----------------------------------------------

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(self._aliases)

    def replicas(self, alias: str | None = None) -> tuple[Replica, ...]:
        """The deployments as run, of one alias or of all."""
        if alias is not None:
            return self._aliases[alias].replicas
        return tuple(itertools.chain.from_iterable(s.replicas for s in self._aliases.values()))

    def stats(self) -> list[ReplicaStats]:
        """A snapshot of every deployment: breaker state, load, limit, counts."""
        try:
            now = _now()
        except RuntimeError:  # read outside the loop (a sync client's caller)
            now = time.monotonic()  # asyncio's loop clock
        return [replica.stats(now) for replica in self.replicas()]

    # -- sending -------------------------------------------------------------

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the router is closed; create a new client to send requests")
        state = self._alias_of(request)
        visited = [state.name]
        previous: Outcome | None = None
        while True:
            outcome = await self._serve(state, request, previous)
            failure = outcome.failure
            if failure is not None and not failure.deployment_at_fault:
                alias = self.fallbacks.alias_after(state.name, failure)
                if alias is not None and alias not in visited:
                    visited.append(alias)
                    state, previous = self._aliases[alias], outcome
                    continue
            request.context.deployment = outcome.replica.name
            return outcome.deliver()

    def _alias_of(self, request: LLMRequest) -> AliasGroup:
        body = request.body
        model = None if body is None else body.get("model")
        if model is None:
            return self._default
        state = self._aliases.get(model)
        if state is None:
            raise UnknownAlias(
                f"{request.endpoint}: no deployments for model {model!r}; "
                f"this router's aliases are {sorted(self._aliases)}"
            )
        return state

    async def _serve(
        self, state: AliasGroup, request: LLMRequest, previous: Outcome | None
    ) -> Outcome:
        """Try the deployments of one alias until one answers or none is left."""
        tried: set[Replica] = set()
        last: Outcome | None = None
        hedger = state.hedger
        if hedger is not None:
            hedger.budget.deposit()
        settle = self._settle[state.name]
        while True:
            picked = await self._picker.pick(state, tried, request, wait=last is None)
            if picked is None:
                if last is not None:
                    return last
                raise NoDeploymentAvailable(
                    f"{request.endpoint}: no deployment of {state.name!r} is available "
                    f"({state.describe(_now())}); the retry layer may try again later"
                )
            replica, probe = picked
            failed = last or previous
            if failed is not None:
                self._note_fallback(request, failed, replica)
            previous = None
            tried.add(replica)
            delay = None if hedger is None or probe else hedger.delay(request.stream)
            if hedger is None or delay is None:
                outcome = await send_to(replica, request, probe=probe, settle=settle)
            else:
                outcome = await race(
                    replica,
                    probe,
                    request,
                    delay=delay,
                    hedger=hedger,
                    pick_hedge=lambda: self._picker.pick_hedge(state, tried),
                    send=lambda r, p: send_to(r, request, probe=p, settle=settle),
                )
            if outcome.failure is None or not outcome.failure.deployment_at_fault:
                return outcome
            last = outcome

    def _note_fallback(self, request: LLMRequest, failed: Outcome, replica: Replica) -> None:
        reason = failed.failure.value if failed.failure is not None else "unknown"
        step = FallbackStep(failed.replica.name, replica.name, reason, replica.alias)
        request.context.fallbacks += (step,)
        logs.info(
            _FELL_BACK,
            endpoint=request.endpoint,
            source=step.source,
            target=step.target,
            reason=failed.error if failed.error is not None else f"status {_status(failed)}",
        )

    def _opened(self, replica: Replica, seconds: float) -> None:
        if self.shared is not None:
            self.shared.publish_open(replica, seconds)

    def _closed_again(self, replica: Replica, seconds: float) -> None:
        self._aliases[replica.alias].queue.wake_all()
        if self.shared is not None:
            self.shared.publish_closed(replica)

    # -- identity and lifecycle ----------------------------------------------

    @property
    def origin(self) -> str | None:
        """``router:`` and, per alias, its deployments' origins and model names:
        a cache keeps routers over different servers apart, and serves any
        client routing to the same deployments."""
        parts = []
        for alias, state in sorted(self._aliases.items()):
            members = []
            for replica in state.replicas:
                origin = replica.transport.origin
                if origin is None:
                    return None
                members.append(f"{origin}#{replica.model or alias}")
            parts.append(f"{alias}={'|'.join(sorted(members))}")
        return "router:" + ";".join(parts)

    def credential_fingerprint(self, key: bytes) -> str | None:
        """An HMAC over every deployment's own fingerprint: a reply cached for
        one set of credentials is not served to another."""
        prints = sorted(r.transport.credential_fingerprint(key) or "" for r in self.replicas())
        if not any(prints):
            return None
        return hmac.new(key, "\n".join(prints).encode(), hashlib.sha256).hexdigest()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def holds_resources(self) -> bool:
        return any(r.transport.holds_resources for r in self.replicas())

    async def recycle(self) -> None:
        for replica in self.replicas():
            await replica.transport.recycle()

    async def close(self) -> None:
        """Close every deployment's middlewares and transport (each one, even if
        one fails), and the shared breaker state's connection."""
        self._closed = True
        errors: list[BaseException] = []
        for replica in self.replicas():
            for step in (replica.pipeline.close, replica.transport.close):
                try:
                    await step()
                except Exception as error:
                    errors.append(error)
        if self.shared is not None:
            await self.shared.close()
        if errors:
            raise errors[0]

    def abandon(self) -> None:
        self._closed = True
        for replica in self.replicas():
            replica.transport.abandon()


def _now() -> float:
    """The running loop's time (the clock breakers and loads are kept in)."""
    return asyncio.get_running_loop().time()


def _status(outcome: Outcome) -> int | None:
    return None if outcome.response is None else outcome.response.status
