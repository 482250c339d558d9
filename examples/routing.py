"""Many deployments behind one client: balancing, breakers, fallbacks, hedging.

`build_router` is the production part: three replicas of a small model under
the alias "chat", a large-context deployment under "chat-long" for requests
too long for the small one, breakers shared through Redis when REDIS_URL is
set, hedging of the slowest 5 %, and an adaptive concurrency limit per
replica. The whole middleware stack (retry, logging, counting) runs above
the router as usual.

For the demo, the replicas are two bundled servers started here (one goes
down mid-run and comes back), and the large deployment is the bundled server
at LLMPIPE_BASE_URL.
"""

import asyncio
import os

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.routing import (
    Aimd,
    BreakerPolicy,
    Deployment,
    Fallbacks,
    Hedging,
    RedisBreakers,
    Router,
)
from llmpipe.testing import Fault, Latency, LLMServer

TOO_LONG = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}


def build_router(config: LLMConfig, replicas: list[str], large: str) -> Router:
    """Deployments by alias, and what the router does when one fails or is slow."""
    key = os.environ.get("LLMPIPE_API_KEY")
    redis_url = os.environ.get("REDIS_URL")
    return Router(
        {
            "chat": [
                Deployment(base_url=url, model="gpt-4o-mini", api_key=key, name=f"replica-{i}")
                for i, url in enumerate(replicas)
            ],
            "chat-long": [Deployment(base_url=large, model="gpt-4", name="long-context")],
        },
        config=config,
        fallbacks=Fallbacks(context_window={"chat": "chat-long"}),
        breaker=BreakerPolicy(failures=3, cooldown=0.5),
        hedging=Hedging(percentile=0.95, max_extra=0.1),
        limit=Aimd(initial=8),
        shared=RedisBreakers(redis_url) if redis_url else None,
    )


async def burst(llm: AsyncLLM, label: str, calls: int = 30) -> None:
    before = llm.get_stats()
    replies = await asyncio.gather(
        *(llm.chat_completion([{"role": "user", "content": f"q{i}"}]) for i in range(calls)),
        return_exceptions=True,
    )
    failed = sum(isinstance(reply, Exception) for reply in replies)
    fallbacks = llm.get_stats().fallbacks - before.fallbacks
    print(f"{label}: {calls} calls, {failed} failed, {fallbacks} fallbacks")


async def main() -> None:
    config = LLMConfig.from_env(model="chat", retry_delay=0.05)
    replica = LLMServer(latency=Latency.fixed(0.02))  # a model server takes some time
    async with replica as first, LLMServer(latency=Latency.fixed(0.02)) as second:
        router = build_router(config, [first.base_url, second.base_url], config.base_url)
        async with AsyncLLM(config, transport=router) as llm:
            names = ", ".join(replica.name for replica in router.replicas("chat"))
            print(f"Deployments: {names} -> chat; long-context -> chat-long")
            await burst(llm, "All up")

            await second.go_down()
            await burst(llm, "replica-1 down")  # its failures fall back, then open its breaker
            state = {s.name: s.state.value for s in router.stats()}
            print(f"replica-1's breaker: {state['replica-1']}")
            await burst(llm, "While its breaker is open")

            await second.come_back()
            await asyncio.sleep(0.6)  # one cooldown: the next call probes it
            await burst(llm, "replica-1 back")
            state = {s.name: s.state.value for s in router.stats()}
            print(f"After recovery: replica-1 {state['replica-1']}")

            # Too long for the small model: the router moves the call to "chat-long".
            # Three each: a request still on its way from a burst above (a hedge's
            # cancelled loser) may reach a replica now and take one.
            for replica in (first, second):
                replica.add_faults(*[Fault(status=400, body=TOO_LONG)] * 3)
            reply = await llm.chat_completion([{"role": "user", "content": "a long one"}])
            [large] = [s for s in router.stats() if s.alias == "chat-long"]
            print(f"Too long for chat: answered by {reply.model} on {large.name}")
            stats = llm.get_stats()
            print(f"Stats: requests={stats.requests} failures={stats.failures}")


if __name__ == "__main__":
    asyncio.run(main())
