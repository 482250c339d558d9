"""Another process for the shared-breaker tests: routes some calls through a
Router whose breakers live in Redis, then prints what it did as one JSON line.

    python -m tests.routing_peer REDIS_URL PREFIX COOLDOWN CALLS URL...
"""

from __future__ import annotations

import asyncio
import json
import sys

from llmpipe import AsyncLLM, LLMConfig, LLMError
from llmpipe.routing import BreakerPolicy, Deployment, RedisBreakers, Router


async def main(redis_url: str, prefix: str, cooldown: float, calls: int, urls: list[str]) -> None:
    config = LLMConfig(model="chat", retry_delay=0.01, max_retries=0, timeout=5)
    router = Router(
        {"chat": [Deployment(base_url=u, model="gpt-4", name=f"s{i}") for i, u in enumerate(urls)]},
        config=config,
        breaker=BreakerPolicy(failures=2, cooldown=cooldown),
        shared=RedisBreakers(redis_url, prefix=prefix, refresh=0),
    )
    failures = 0
    async with AsyncLLM(config, transport=router) as llm:
        for _ in range(calls):
            try:
                await llm.chat_completion([{"role": "user", "content": "hello"}])
            except LLMError:
                failures += 1
        report = {
            "failures": failures,
            "fallbacks": llm.get_stats().fallbacks,
            "deployments": {
                s.name: {"requests": s.requests, "probes": s.probes, "state": s.state.value}
                for s in router.stats()
            },
        }
    print(json.dumps(report))


if __name__ == "__main__":
    redis_url, prefix, cooldown, calls, *urls = sys.argv[1:]
    asyncio.run(main(redis_url, prefix, float(cooldown), int(calls), urls))
